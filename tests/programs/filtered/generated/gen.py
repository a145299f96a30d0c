"""Generated code: excluded by pattern."""


def bump(obj):
    obj.gen_value = getattr(obj, "gen_value", 0) + 1  # MARK: gen
