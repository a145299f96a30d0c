"""Every sys.monitoring tool id racetrace may use is held by another tool:
recording refuses, saying which tools hold them, and leaves them alone."""

import sys

import racetrace

mon = sys.monitoring
for tool in (0, 2, 3, 4):
    mon.use_tool_id(tool, f"tool-{tool}")
try:
    with racetrace.record(sys.argv[1]):
        pass
except RuntimeError as e:
    print("refused:", e)
print("still held:", [mon.get_tool(t) for t in (0, 2, 3, 4)])
