# Homebrew formula for docker-credential-ecr (for a tap: brew install <tap>/docker-credential-ecr).
# Release steps fill in url and sha256 from the tagged source tarball.
class DockerCredentialEcr < Formula
  desc "Docker credential helper for Amazon ECR, without docker login"
  homepage "https://github.com/docker-credential-ecr/docker-credential-ecr"
  url "https://github.com/docker-credential-ecr/docker-credential-ecr/archive/refs/tags/v0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "Apache-2.0"
  head "https://github.com/docker-credential-ecr/docker-credential-ecr.git", branch: "main"

  depends_on "rust" => :build

  def install
    system "cargo", "install", *std_cargo_args
    system bin/"docker-credential-ecr", "manpage", "--out-dir", man1
    generate_completions_from_executable(bin/"docker-credential-ecr", "completions")
  end

  # `brew services start docker-credential-ecr`: the token daemon as a launchd agent.
  service do
    run [opt_bin/"docker-credential-ecr", "daemon"]
    keep_alive true
    log_path var/"log/docker-credential-ecr.log"
    error_log_path var/"log/docker-credential-ecr.log"
  end

  def caveats
    <<~EOS
      Route your registries to the helper (keeps everything else in the file):
        docker-credential-ecr configure --region <region>
      Then check the whole path:
        docker-credential-ecr doctor

      Configs that name the Go helper ("ecr-login") can switch without edits:
        ln -s #{opt_bin}/docker-credential-ecr #{HOMEBREW_PREFIX}/bin/docker-credential-ecr-login
    EOS
  end

  test do
    assert_equal "credentials not found in native keychain",
      pipe_output("#{bin}/docker-credential-ecr get", "docker.io", 1).strip
    assert_match version.to_s, shell_output("#{bin}/docker-credential-ecr version")
  end
end
