# shellcheck shell=bash
# The end-to-end cases and the demo; sourced by tests/e2e/e2e.sh, which provides the
# setup, the constants (HOST, OTHER_HOST, ANON_HOST, TOKEN, REPO_NAME, E2E) and teardown.
#
# Every case runs a real client configured only by a credHelpers entry that names
# the logging wrapper `docker-credential-ecr-e2e`, and asserts from the wrapper's log
# that the client ran the helper (who, which action, which registry, exit status).
# Pushes are checked against the digest the registry holds, pulls against the pushed one.

# ---------------------------------------------------------------- assertions

fail() {
    printf 'ASSERTION FAILED: %b\n' "$*" >&2
    exit 1
}

# Line count of the wrapper's log: the calls a case made are the lines after it.
calls_mark() { wc -l <"$E2E_HELPER_LOG"; }
calls_since() { tail -n +"$(($1 + 1))" "$E2E_HELPER_LOG"; }

# expect_call MARK PARENT ACTION REGISTRY EXIT: the client PARENT ran the helper that way.
expect_call() {
    calls_since "$1" | awk -F'\t' -v p="$2" -v a="$3" -v h="$4" -v r="$5" \
        '$2 == p && $3 == a && $4 == h && $5 == r {found = 1} END {exit !found}' ||
        fail "expected '$2' to run the helper: $3 $4 -> exit $5; the helper's calls during this case:\n$(calls_since "$1")"
    echo "helper called: $2 $3 $4 -> exit $5"
}

# API calls seen by each endpoint (moto logs one line per request; the fake counts).
moto_calls() { grep -c '"POST / HTTP' "$E2E/logs/moto.log" || true; }
fake_calls() { cat "$E2E/state/fake.calls" 2>/dev/null || echo 0; }

# The registry's own log since a byte offset.
log_size() { stat -c %s "$E2E/logs/$1.log"; }
log_since() { tail -c +"$(($2 + 1))" "$E2E/logs/$1.log"; }

# The manifest digest the registry holds for REPO:TAG, asked directly (no client, no helper).
registry_digest() { # host repo tag
    local auth=()
    [ "$1" = "$ANON_HOST" ] || auth=(-u "AWS:$TOKEN")
    curl -sS -I "${auth[@]}" \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "https://$1/v2/$2/manifests/$3" | tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" {print $2}'
}

# Run a client with a watchdog (not a speed limit: a hang is a failure, not a wait).
client() { timeout -k 10 300 "$@"; }

image_digest() { cat "$E2E/state/image.digest"; }

# ---------------------------------------------------------------- cases

case_helper_get() {
    local m mc out
    m=$(calls_mark)
    mc=$(moto_calls)
    out=$(printf %s "$HOST" | docker-credential-ecr-e2e get)
    [ "$(jq -r .Username <<<"$out")" = AWS ] || fail "Username is not AWS"
    [ "$(jq -r .Secret <<<"$out")" = "$TOKEN" ] || fail "the secret is not the token moto issues for $ACCOUNT"
    expect_call "$m" bash get "$HOST" 0
    [ "$(moto_calls)" -gt "$mc" ] || fail "moto (api.ecr.$REGION.amazonaws.com via /etc/hosts, TLS) saw no call"
    echo "moto answered GetAuthorizationToken: $(($(moto_calls) - mc)) call(s)"
}

# The hand-made image is byte-for-byte reproducible: built again, same digest.
case_image_reproducible() {
    local again
    again=$(make_image "$E2E/tmp/image-again")
    [ "$again" = "$(image_digest)" ] || fail "rebuilt image has digest $again, first build $(image_digest)"
    cmp -s "$E2E/image/index.json" "$E2E/tmp/image-again/index.json" || fail "index.json differs"
    echo "rebuilt: same digest $again"
}

case_skopeo_push() {
    local m out
    m=$(calls_mark)
    out=$(client skopeo copy "oci:$E2E/image:1" "docker://$HOST/$REPO_NAME:1" 2>&1) || fail "skopeo push failed:\n$out"
    expect_call "$m" skopeo get "$HOST" 0
    [ "$(registry_digest "$HOST" "$REPO_NAME" 1)" = "$(image_digest)" ] ||
        fail "the registry holds $(registry_digest "$HOST" "$REPO_NAME" 1), pushed $(image_digest)"
    echo "registry holds $REPO_NAME:1 = $(image_digest), the image's own digest"
}

case_skopeo_pull() {
    local m out got
    m=$(calls_mark)
    rm -rf "$E2E/tmp/pulled"
    out=$(client skopeo copy "docker://$HOST/$REPO_NAME:1" "oci:$E2E/tmp/pulled:1" 2>&1) || fail "skopeo pull failed:\n$out"
    expect_call "$m" skopeo get "$HOST" 0
    got=$(jq -r '.manifests[0].digest' "$E2E/tmp/pulled/index.json")
    [ "$got" = "$(image_digest)" ] || fail "pulled $got, pushed $(image_digest)"
    echo "pulled digest $got = pushed"
}

case_podman_pull() {
    local m out got
    m=$(calls_mark)
    out=$(client podman pull "$HOST/$REPO_NAME:1" 2>&1) || fail "podman pull failed:\n$out"
    expect_call "$m" podman get "$HOST" 0
    got=$(podman image inspect --format '{{.Digest}}' "$HOST/$REPO_NAME:1")
    [ "$got" = "$(image_digest)" ] || fail "podman pulled $got, pushed $(image_digest)"
    echo "pulled digest $got = pushed"
}

case_podman_push() {
    local m out pushed
    m=$(calls_mark)
    podman tag "$HOST/$REPO_NAME:1" "$HOST/$REPO_NAME:podman"
    out=$(client podman push --digestfile "$E2E/tmp/podman.digest" "$HOST/$REPO_NAME:podman" 2>&1) ||
        fail "podman push failed:\n$out"
    expect_call "$m" podman get "$HOST" 0
    pushed=$(cat "$E2E/tmp/podman.digest")
    [ "$(registry_digest "$HOST" "$REPO_NAME" podman)" = "$pushed" ] ||
        fail "podman pushed $pushed, the registry holds $(registry_digest "$HOST" "$REPO_NAME" podman)"
    echo "pushed $pushed = what the registry holds"
}

case_buildah_pull() {
    local m out got b=(buildah --root "$E2E/buildah/root" --runroot "$E2E/buildah/runroot" --storage-driver vfs)
    m=$(calls_mark)
    out=$(client "${b[@]}" pull --policy always "$HOST/$REPO_NAME:1" 2>&1) || fail "buildah pull failed:\n$out"
    expect_call "$m" buildah get "$HOST" 0
    got=$("${b[@]}" images --digests --format '{{.Digest}}' "$HOST/$REPO_NAME:1")
    [ "$got" = "$(image_digest)" ] || fail "buildah pulled $got, pushed $(image_digest)"
    echo "pulled digest $got = pushed"
}

case_docker_pull() {
    local m out
    m=$(calls_mark)
    out=$(client docker pull "$HOST/$REPO_NAME:1" 2>&1) || fail "docker pull failed:\n$out"
    expect_call "$m" docker get "$HOST" 0
    docker image inspect --format '{{join .RepoDigests " "}}' "$HOST/$REPO_NAME:1" |
        grep -qF "$HOST/$REPO_NAME@$(image_digest)" || fail "docker's RepoDigests lack $(image_digest):\n$out"
    echo "pulled digest $(image_digest) = pushed"
}

case_docker_push() {
    local m out pushed
    m=$(calls_mark)
    docker tag "$HOST/$REPO_NAME:1" "$HOST/$REPO_NAME:docker"
    out=$(client docker push "$HOST/$REPO_NAME:docker" 2>&1) || fail "docker push failed:\n$out"
    expect_call "$m" docker get "$HOST" 0
    pushed=$(grep -o 'digest: sha256:[0-9a-f]*' <<<"$out" | cut -d' ' -f2)
    [ -n "$pushed" ] || fail "docker push printed no digest:\n$out"
    [ "$(registry_digest "$HOST" "$REPO_NAME" docker)" = "$pushed" ] ||
        fail "docker pushed '$pushed', the registry holds $(registry_digest "$HOST" "$REPO_NAME" docker)"
    echo "pushed $pushed = what the registry holds"
}

# docker login with no -u/-p asks the helper (get), validates, then stores: our store must succeed.
case_docker_login_logout() {
    local m out cfg=$E2E/tmp/login-config
    rm -rf "$cfg"
    cp -r "$DOCKER_CONFIG" "$cfg"
    m=$(calls_mark)
    out=$(DOCKER_CONFIG=$cfg client docker login "$HOST" </dev/null 2>&1) || fail "docker login failed:\n$out"
    grep -q 'Login Succeeded' <<<"$out" || fail "no 'Login Succeeded':\n$out"
    expect_call "$m" docker get "$HOST" 0
    expect_call "$m" docker store "$HOST" 0
    m=$(calls_mark)
    out=$(DOCKER_CONFIG=$cfg client docker logout "$HOST" 2>&1) || fail "docker logout failed:\n$out"
    expect_call "$m" docker erase "$HOST" 0
    grep -q 'warning\|WARNING\|error' <<<"$out" && fail "docker logout warned:\n$out"
    [ "$(jq -r --arg h "$HOST" '.credHelpers[$h]' "$cfg/config.json")" = ecr-e2e ] ||
        fail "the credHelpers entry did not survive login/logout"
    echo "login: get + store succeeded; logout: erase succeeded, no warning"
}

# The legacy builder fetches every credHelpers entry (GetAllCredentials), then the daemon pulls FROM with them.
case_docker_build() {
    local m out ctx=$E2E/tmp/build
    rm -rf "$ctx"
    mkdir -p "$ctx"
    printf 'built through the helper\n' >"$ctx/note.txt"
    printf 'FROM %s/%s:1\nLABEL e2e.built=yes\nCOPY note.txt /note.txt\n' "$HOST" "$REPO_NAME" >"$ctx/Dockerfile"
    m=$(calls_mark)
    local before
    before=$(log_size registry)
    out=$(DOCKER_BUILDKIT=0 client docker build --pull -t e2e-built:1 "$ctx" 2>&1) || fail "docker build failed:\n$out"
    expect_call "$m" docker get "$HOST" 0
    expect_call "$m" docker get "$OTHER_HOST" 0
    expect_call "$m" docker get "$ANON_HOST" 1
    [ "$(docker image inspect --format '{{index .Config.Labels "e2e.built"}}' e2e-built:1)" = yes ] ||
        fail "the built image lacks its label"
    log_since registry "$before" | grep -F 'msg="authorized request"' | grep -qF "uri=/v2/$REPO_NAME/manifests/1 " ||
        fail "the daemon did not fetch the FROM image's manifest with credentials:\n$(log_since registry "$before" | tail -5)"
    echo "legacy build: one get per credHelpers entry; the daemon fetched FROM with those credentials"
}

# Our own fake endpoint, reached through an endpoint override instead of /etc/hosts.
case_endpoint_override() {
    local m out fc mc
    m=$(calls_mark)
    fc=$(fake_calls)
    mc=$(moto_calls)
    export AWS_ENDPOINT_URL_ECR=https://127.0.0.3
    out=$(client skopeo copy "oci:$E2E/image:1" "docker://$HOST/$REPO_NAME:fake" 2>&1) || fail "skopeo push failed:\n$out"
    rm -rf "$E2E/tmp/pulled-fake"
    out=$(client skopeo copy "docker://$HOST/$REPO_NAME:fake" "oci:$E2E/tmp/pulled-fake:1" 2>&1) || fail "skopeo pull failed:\n$out"
    expect_call "$m" skopeo get "$HOST" 0
    [ "$(jq -r '.manifests[0].digest' "$E2E/tmp/pulled-fake/index.json")" = "$(image_digest)" ] || fail "pulled digest differs"
    [ "$(fake_calls)" -gt "$fc" ] || fail "our fake endpoint saw no call"
    [ "$(moto_calls)" = "$mc" ] || fail "moto was called although the endpoint was overridden"
    # Its tokens last 12 hours, so the second get came from the cache: exactly one call.
    [ "$(fake_calls)" = "$((fc + 1))" ] || fail "expected 1 call for push + pull (cached), saw $(($(fake_calls) - fc))"
    "$E2E_HELPER_BIN" status --json | jq -e --arg h "$HOST" '.entries[] | select(.registry == $h and .state == "valid")' >/dev/null ||
        fail "status shows no valid cached token for $HOST:\n$("$E2E_HELPER_BIN" status)"
    echo "fake endpoint: 1 call for push + pull, token cached; moto untouched"
}

# Another account's host: the helper gets that account's token, the registry rejects it.
case_wrong_account() {
    local m out before
    m=$(calls_mark)
    before=$(log_size registry)
    out=$(client skopeo copy "oci:$E2E/image:1" "docker://$OTHER_HOST/$REPO_NAME:wrong" 2>&1) &&
        fail "push with account $OTHER_ACCOUNT's token succeeded"
    grep -qiE 'unauthorized|authentication required' <<<"$out" || fail "skopeo failed, but not as unauthorized:\n$out"
    expect_call "$m" skopeo get "$OTHER_HOST" 0
    log_since registry "$before" | grep -q 'authentication failure' ||
        fail "the registry did not log an authentication failure"
    echo "skopeo: $(grep -oiE 'unauthorized[^"]*' <<<"$out" | head -1)"
    m=$(calls_mark)
    before=$(log_size registry)
    out=$(client docker pull "$OTHER_HOST/$REPO_NAME:1" 2>&1) && fail "docker pull with account $OTHER_ACCOUNT's token succeeded"
    expect_call "$m" docker get "$OTHER_HOST" 0
    log_since registry "$before" | grep -q 'authentication failure' ||
        fail "the registry did not log an authentication failure for docker"
    # dockerd treats 127.0.0.0/8 as an insecure registry: after the 401 it retries over
    # http://:80, so its message is that connection's failure, not "unauthorized".
    echo "docker: $(tail -1 <<<"$out") (registry logged the authentication failure)"
}

# A registry that is not ECR stays anonymous: the helper answers not-found with no AWS call.
case_non_ecr_anonymous() {
    local m out mc fc
    m=$(calls_mark)
    mc=$(moto_calls)
    fc=$(fake_calls)
    out=$(client skopeo copy "oci:$E2E/image:1" "docker://$ANON_HOST/$REPO_NAME:1" 2>&1) || fail "anonymous push failed:\n$out"
    expect_call "$m" skopeo get "$ANON_HOST" 1
    calls_since "$m" | awk -F'\t' -v h="$ANON_HOST" '$4 == h' | grep -q 'credentials not found in native keychain' ||
        fail "the helper did not answer the protocol's not-found"
    out=$(client docker pull "$ANON_HOST/$REPO_NAME:1" 2>&1) || fail "anonymous docker pull failed:\n$out"
    expect_call "$m" docker get "$ANON_HOST" 1
    grep -qF "$(image_digest)" <<<"$out" || fail "docker pulled another digest:\n$out"
    [ "$(moto_calls)" = "$mc" ] || fail "the helper called moto for a non-ECR host"
    [ "$(fake_calls)" = "$fc" ] || fail "the helper called the fake endpoint for a non-ECR host"
    echo "not-found for $ANON_HOST, no API call; anonymous push and pull worked"
}

# No AWS credentials anywhere: the client fails as unauthorized, the helper's stderr says why.
case_no_credentials() {
    local m out
    m=$(calls_mark)
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    export AWS_EC2_METADATA_DISABLED=true DOCKER_CREDENTIAL_ECR_CACHE=none
    rm -rf "$E2E/tmp/nocreds"
    out=$(client skopeo copy "docker://$HOST/$REPO_NAME:1" "oci:$E2E/tmp/nocreds:1" 2>&1) && fail "pull without credentials succeeded"
    grep -qiE 'unauthorized|authentication required' <<<"$out" || fail "skopeo failed, but not as unauthorized:\n$out"
    expect_call "$m" skopeo get "$HOST" 1
    if [ "$KIND" = ours ]; then
        grep -q 'no AWS credentials found' <<<"$out" || fail "skopeo's output lacks the helper's reason:\n$out"
        echo "skopeo showed: $(grep -o 'docker-credential-ecr[^$]*no AWS credentials found[^;]*' <<<"$out" | head -1)"
    fi
    m=$(calls_mark)
    out=$(client docker pull "$HOST/$REPO_NAME:1" 2>&1) && fail "docker pull without credentials succeeded"
    expect_call "$m" docker get "$HOST" 1
    if [ "$KIND" = ours ]; then
        grep -q 'no AWS credentials found' <<<"$out" || fail "docker's output lacks the helper's reason:\n$out"
    fi
    echo "docker failed: $(tail -1 <<<"$out")"
}

# docker with nothing but credsStore naming the helper: a login to a registry that is not
# ECR is kept (never in a file others can read), push and pull use it, logout erases it;
# ECR push and pull work in the same config with no entry for the host.
case_credsstore_docker() {
    local m out cfg=$E2E/tmp/store-config repo=e2e/login pushed
    rm -rf "$cfg"
    mkdir -p "$cfg"
    printf '{\n  "credsStore": "ecr-e2e"\n}\n' >"$cfg/config.json"
    # ECR first: minted, no entry for the host anywhere.
    docker rmi "$HOST/$REPO_NAME:1" >/dev/null 2>&1 || true
    m=$(calls_mark)
    out=$(DOCKER_CONFIG=$cfg client docker pull "$HOST/$REPO_NAME:1" 2>&1) || fail "docker pull from ECR failed:\n$out"
    expect_call "$m" docker get "$HOST" 0
    docker tag "$HOST/$REPO_NAME:1" "$HOST/$REPO_NAME:store"
    out=$(DOCKER_CONFIG=$cfg client docker push "$HOST/$REPO_NAME:store" 2>&1) || fail "docker push to ECR failed:\n$out"
    pushed=$(grep -o 'digest: sha256:[0-9a-f]*' <<<"$out" | cut -d' ' -f2)
    [ -n "$pushed" ] && [ "$(registry_digest "$HOST" "$REPO_NAME" store)" = "$pushed" ] ||
        fail "ECR push: docker pushed '$pushed', the registry holds $(registry_digest "$HOST" "$REPO_NAME" store)"

    m=$(calls_mark)
    out=$(printf %s "$LOGIN_PASSWORD" | DOCKER_CONFIG=$cfg client docker login -u "$LOGIN_USER" --password-stdin "$LOGIN_HOST" 2>&1) ||
        fail "docker login to $LOGIN_HOST failed:\n$out"
    grep -q 'Login Succeeded' <<<"$out" || fail "no 'Login Succeeded':\n$out"
    expect_call "$m" docker store "$LOGIN_HOST" 0
    # Never in plain text in config.json, nor in any file that others can read.
    if grep -rlF "$LOGIN_PASSWORD" "$E2E" --exclude-dir=registry --exclude-dir=cases --exclude-dir=logs 2>/dev/null |
        xargs -r stat -c '%a %n' | grep -v '^600 '; then
        fail "the password is in a file others can read (above)"
    fi
    grep -qF "$(printf %s "$LOGIN_USER:$LOGIN_PASSWORD" | base64)" "$cfg/config.json" &&
        fail "docker wrote the login into config.json"

    docker tag "$HOST/$REPO_NAME:1" "$LOGIN_HOST/$repo:1"
    m=$(calls_mark)
    out=$(DOCKER_CONFIG=$cfg client docker push "$LOGIN_HOST/$repo:1" 2>&1) || fail "docker push to $LOGIN_HOST failed:\n$out"
    expect_call "$m" docker get "$LOGIN_HOST" 0
    pushed=$(grep -o 'digest: sha256:[0-9a-f]*' <<<"$out" | cut -d' ' -f2)
    [ "$(curl -sS -I -u "$LOGIN_USER:$LOGIN_PASSWORD" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "https://$LOGIN_HOST/v2/$repo/manifests/1" | tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" {print $2}')" = "$pushed" ] ||
        fail "the registry does not hold what docker pushed ($pushed)"
    docker rmi "$LOGIN_HOST/$repo:1" >/dev/null
    m=$(calls_mark)
    out=$(DOCKER_CONFIG=$cfg client docker pull "$LOGIN_HOST/$repo:1" 2>&1) || fail "docker pull from $LOGIN_HOST failed:\n$out"
    expect_call "$m" docker get "$LOGIN_HOST" 0

    m=$(calls_mark)
    out=$(DOCKER_CONFIG=$cfg client docker logout "$LOGIN_HOST" 2>&1) || fail "docker logout failed:\n$out"
    expect_call "$m" docker erase "$LOGIN_HOST" 0
    grep -qi 'warning\|error' <<<"$out" && fail "docker logout warned:\n$out"
    printf %s "$LOGIN_HOST" | "$E2E_HELPER_BIN" get >/dev/null 2>&1 && fail "the login survived docker logout"
    docker rmi "$LOGIN_HOST/$repo:1" >/dev/null
    out=$(DOCKER_CONFIG=$cfg client docker pull "$LOGIN_HOST/$repo:1" 2>&1) && fail "pull after logout succeeded:\n$out"
    echo "credsStore only: login kept 0600, push + pull with it, ECR push + pull, logout erased it"
}

# podman and skopeo with nothing but credential-helpers in registries.conf: an ECR host
# listed nowhere is pulled with a minted token; podman login/logout to another registry work.
case_credsstore_podman() {
    local m out got auth=$E2E/tmp/store-auth.json conf=$E2E/tmp/store-registries.conf
    printf '{}\n' >"$auth"
    printf 'unqualified-search-registries = []\ncredential-helpers = ["containers-auth.json", "ecr-e2e"]\n' >"$conf"
    export REGISTRY_AUTH_FILE=$auth CONTAINERS_REGISTRIES_CONF=$conf
    podman rmi -f "$HOST/$REPO_NAME:1" >/dev/null 2>&1 || true
    m=$(calls_mark)
    out=$(client podman pull "$HOST/$REPO_NAME:1" 2>&1) || fail "podman pull failed:\n$out"
    expect_call "$m" podman get "$HOST" 0
    got=$(podman image inspect --format '{{.Digest}}' "$HOST/$REPO_NAME:1")
    [ "$got" = "$(image_digest)" ] || fail "podman pulled $got, pushed $(image_digest)"
    rm -rf "$E2E/tmp/pulled-store"
    out=$(client skopeo copy "docker://$HOST/$REPO_NAME:1" "oci:$E2E/tmp/pulled-store:1" 2>&1) || fail "skopeo pull failed:\n$out"
    expect_call "$m" skopeo get "$HOST" 0

    m=$(calls_mark)
    out=$(printf %s "$LOGIN_PASSWORD" | client podman login -u "$LOGIN_USER" --password-stdin "$LOGIN_HOST" 2>&1) ||
        fail "podman login failed:\n$out"
    jq -e --arg h "$LOGIN_HOST" '.auths[$h]' "$auth" >/dev/null || fail "podman login did not use auth.json first"
    podman tag "$HOST/$REPO_NAME:1" "$LOGIN_HOST/e2e/login:podman"
    out=$(client podman push "$LOGIN_HOST/e2e/login:podman" 2>&1) || fail "podman push with the login failed:\n$out"
    out=$(client podman logout "$LOGIN_HOST" 2>&1) || fail "podman logout failed:\n$out"
    jq -e --arg h "$LOGIN_HOST" '.auths[$h]' "$auth" >/dev/null && fail "podman logout left the login in auth.json"
    if calls_since "$m" | awk -F'\t' '$3 == "erase"' | grep -q .; then
        expect_call "$m" podman erase "$LOGIN_HOST" 0
    fi
    echo "registries.conf only: podman + skopeo pulled ECR (listed nowhere); podman login/logout worked"
}

# The clients' gets went through our token daemon, which started itself.
case_daemon_served() {
    local st
    st=$("$E2E_HELPER_BIN" daemon status --json) || fail "no daemon is running"
    [ "$(jq '.hits + .misses' <<<"$st")" -gt 0 ] || fail "the daemon answered no get:\n$st"
    echo "daemon: $(jq -c '{hits, misses, api_calls, errors}' <<<"$st")"
}

# ---------------------------------------------------------------- runner

CASES_ALL="image_reproducible helper_get skopeo_push skopeo_pull podman_pull podman_push buildah_pull
docker_pull docker_push docker_login_logout docker_build endpoint_override
wrong_account non_ecr_anonymous no_credentials credsstore_docker credsstore_podman daemon_served"
# Cases that test our own features; n/a for another helper (the Go one fails them by design).
CASES_OURS_ONLY=" docker_login_logout endpoint_override credsstore_docker credsstore_podman daemon_served "
CASES_DOCKER=" docker_pull docker_push docker_login_logout docker_build credsstore_docker "

cmd_test() {
    require_root
    [ -f "$E2E/env" ] || die "not set up: run tests/e2e/e2e.sh setup first"
    # shellcheck source=/dev/null
    . "$E2E/env"
    if [ -n "${E2E_HELPER:-}" ]; then E2E_HELPER_BIN=$(readlink -f "$E2E_HELPER"); fi
    export E2E_HELPER_BIN
    KIND=$(helper_kind "$E2E_HELPER_BIN")
    mkdir -p "$E2E/cases"
    say "==> e2e cases against $E2E_HELPER_BIN ($KIND; token API: ${E2E_API:-moto}); clients:"
    say "    $(skopeo --version), $(podman --version), $(buildah --version | cut -d' ' -f1-3)"
    say "    docker CLI $(docker version --format '{{.Client.Version}}' 2>/dev/null), dockerd $(dockerd --version | cut -d' ' -f3 | tr -d ,)"
    local name rc passed=0 failed=() skipped=0
    for name in ${E2E_CASES:-$CASES_ALL}; do
        if [ "$KIND" != ours ] && [[ "$CASES_OURS_ONLY" == *" $name "* ]]; then
            printf '  n/a   %s (tests a feature of ours)\n' "$name"
            skipped=$((skipped + 1))
            continue
        fi
        if [ ! -S "$E2E/docker/docker.sock" ] && [[ "$CASES_DOCKER" == *" $name "* ]]; then
            printf '  FAIL  %s (dockerd is not running)\n' "$name"
            failed+=("$name")
            continue
        fi
        set +e
        (
            set -euo pipefail
            export KIND
            "case_$name"
        ) >"$E2E/cases/$name.log" 2>&1
        rc=$?
        set -e
        if [ "$rc" = 0 ]; then
            printf '  PASS  %-22s %s\n' "$name" "$(tail -1 "$E2E/cases/$name.log")"
            passed=$((passed + 1))
        else
            printf '  FAIL  %s\n' "$name"
            sed 's/^/        | /' "$E2E/cases/$name.log" | tail -25
            failed+=("$name")
        fi
    done
    say "==> helper calls by client: $(cut -f2,3 "$E2E_HELPER_LOG" | sort | uniq -c | awk '{printf "%s %s x%s, ", $2, $3, $1}' | sed 's/, $//')"
    say "==> e2e: $passed passed, ${#failed[@]} failed, $skipped n/a"
    [ ${#failed[@]} = 0 ] || {
        note "failed: ${failed[*]} (logs: $E2E/cases)"
        return 1
    }
}

# ---------------------------------------------------------------- demo

demo_step() {
    if [ -t 1 ]; then printf '\n\033[1m── %s\033[0m\n' "$*"; else printf '\n── %s\n' "$*"; fi
}
demo_run() {
    if [ -t 1 ]; then printf '\033[36m$ %s\033[0m\n' "$*"; else printf '$ %s\n' "$*"; fi
    "$@"
}

# A helper for the demo: E2E_HELPER, ours on PATH (also the sudo user's ~/.local/bin), or built now.
demo_helper() {
    local h=${E2E_HELPER:-}
    [ -n "$h" ] || h=$(command -v docker-credential-ecr 2>/dev/null || true)
    if [ -z "$h" ] && [ -n "${SUDO_USER:-}" ]; then
        h=$(getent passwd "$SUDO_USER" | cut -d: -f6)/.local/bin/docker-credential-ecr
        [ -x "$h" ] || h=""
    fi
    if [ -z "$h" ]; then
        note "docker-credential-ecr is not installed; building it with ./install.sh into $E2E-prefix"
        "$REPO/install.sh" --prefix "$E2E-prefix" >&2
        h=$E2E-prefix/bin/docker-credential-ecr
    fi
    readlink -f "$h"
}

cmd_demo() {
    require_root
    if [ -n "$(missing_tools)" ]; then
        say "==> installing what the demo needs (Debian packages, moto from PyPI)"
        cmd_install
    fi
    local helper
    helper=$(demo_helper)
    [ "$(helper_kind "$helper")" = ours ] || die "$helper is not docker-credential-ecr"
    export E2E_HELPER=$helper E2E_MOTO_FUTURE_EXPIRY=1
    setup_preflight
    # Teardown must finish even when its output has nowhere to go (a closed pipe).
    trap 'trap "" PIPE; set +e; { demo_step "tearing everything down"; cmd_teardown --purge; } >&2' EXIT
    trap 'exit 130' INT TERM HUP
    trap 'exit 141' PIPE
    cmd_setup >/dev/null
    # shellcheck source=/dev/null
    . "$E2E/env"
    local img=$HOST/demo/hello
    # Just the registry the demo uses (the suite's config also lists its negative cases' hosts).
    printf '{\n  "credHelpers": {\n    "%s": "ecr-e2e"\n  }\n}\n' "$HOST" >"$DOCKER_CONFIG/config.json"
    cat <<TXT

This demo runs $("$helper" version) against stand-ins for AWS,
all on this machine, with no AWS account:

  * a real OCI registry (Debian's docker-registry) answering as $HOST
    on 127.0.0.1:443. Like ECR, it wants user "AWS" and a token from GetAuthorizationToken.
  * moto, an independent ECR API emulator, answering as $API_HOST
    (127.0.0.2:443), through an /etc/hosts entry, with TLS from a throwaway CA this
    machine trusts for the demo. The helper takes this path exactly as it would to AWS.
  * dockerd with its own socket and data directory, and podman with its own storage.

The only client configuration is docker's config.json:
TXT
    sed 's/^/    /' "$DOCKER_CONFIG/config.json"
    say "(\"ecr-e2e\" runs a small wrapper that logs each call and then runs docker-credential-ecr; in"
    say " your own config the value is \"ecr\".) The helper's AWS credentials are static test keys."

    demo_step "1. the helper's token cache before: empty"
    demo_run docker-credential-ecr status

    demo_step "2. what docker, podman and skopeo ask the helper (the secret shortened here)"
    printf '$ echo %s | docker-credential-ecr get\n' "$HOST"
    echo "$HOST" | docker-credential-ecr get | jq -c '.Secret |= .[0:8] + "..."' | sed 's/^/    /'
    say "    (user AWS and the token moto issued: what the registry, like ECR, wants)"

    demo_step "3. push a small image to the registry with skopeo, then pull it with docker"
    demo_run skopeo copy --quiet "oci:$E2E/image:1" "docker://$img:1"
    demo_run docker pull "$img:1"
    demo_step "4. docker push, podman pull"
    demo_run docker tag "$img:1" "$img:2"
    demo_run docker push "$img:2"
    demo_run podman pull "$img:2"

    demo_step "5. who ran the helper (from the wrapper's log; never a secret)"
    awk -F'\t' '{printf "    %-8s %-6s %s -> %s\n", $2, $3, $4, ($5 == 0 ? "credentials" : "not found")}' "$E2E_HELPER_LOG"
    say "    $(wc -l <"$E2E_HELPER_LOG") gets, $(moto_calls) call(s) to the ECR API (moto): the token is cached, per AWS identity."

    demo_step "6. the token cache after"
    demo_run docker-credential-ecr status

    demo_step "7. and without the helper? the same pull, with an empty docker config"
    mkdir -p "$E2E/tmp/empty-config"
    echo '{}' >"$E2E/tmp/empty-config/config.json"
    docker rmi -f "$img:1" "$img:2" >/dev/null
    if DOCKER_CONFIG=$E2E/tmp/empty-config docker pull "$img:1" 2>&1 | sed 's/^/    /'; then
        die "the pull without credentials should have failed"
    fi
    say "    (refused: the registry wants ECR credentials. dockerd treats 127.0.0.0/8 as an"
    say "     insecure registry, so after the 401 it also tried http://:80 and reports that.)"

    say ""
    say "That was the main job: clients configured only by credHelpers get ECR tokens from"
    say "the helper. Point it at real AWS with your normal credentials (AWS_PROFILE, SSO, ...)."
}
