//! The `docker-credential-ecr` executable; all logic lives in the library.

fn main() -> std::process::ExitCode {
    docker_credential_ecr::cli::main()
}
