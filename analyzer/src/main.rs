fn main() {
    std::process::exit(racetrace_analyzer::cli::run(std::env::args_os()));
}
