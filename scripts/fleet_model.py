#!/usr/bin/env python3
"""Fleet model: GetAuthorizationToken calls per second across a fleet, per credential helper.

ECR throttles GetAuthorizationToken per account and region at 20 TPS
sustained (200 burst), shared by every host. This script estimates the
fleet's call rate for:

  (a) no cache: every image pull asks AWS;
  (b) the Go helper (docker-credential-ecr-login): a per-user file cache,
      valid until half the token's life, keyed by access key id (temporary
      credentials rotate, so the key changes), no lock: every process of a
      parallel burst that finds the cache cold calls AWS;
  (c) docker-credential-ecr without its daemon (cross-process lock: one call
      per burst, refresh at half life) and with it (tokens in use renewed
      at 40-45% of their life);
  (k) kubelet with the reference plugin (cloud-provider-aws
      ecr-credential-provider: no cache of its own, kubelet keeps the answer
      for half the token's remaining life, parallel runs for one registry
      all call) and with ours (one call per burst, kubelet keeps the answer
      until 5 minutes before expiry).

The inputs for (c) and (k, ours) are measured, not assumed: `measure` runs
the real binary against scripts/fake_ecr.py and counts the calls that a
cold parallel burst makes, and the calls per token lifetime under steady
load with short-lived tokens. `report` turns those counts into fleet rates
and writes docs/fleet-model.md (and its chart, docs/fleet-model.svg).

Usage:
  scripts/fleet_model.py all --bin target/debug/docker-credential-ecr   # measure + report
  scripts/fleet_model.py measure --bin PATH [--out docs/fleet-measured.json]
  scripts/fleet_model.py report [--check] [--pulls 30 --parallelism 8 --keys 2 ...]

`report --check` exits 1 if docs/fleet-model.md or the chart differ from
what the committed measurements give (a test runs it: the numbers in the
docs are never edited by hand). Python 3 standard library only.
"""

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEASURED = os.path.join(ROOT, "docs", "fleet-measured.json")
DOC = os.path.join(ROOT, "docs", "fleet-model.md")
SVG = os.path.join(ROOT, "docs", "fleet-model.svg")
HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
KUBELET_REQUEST = json.dumps({
    "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
    "kind": "CredentialProviderRequest",
    "image": HOST + "/team/app",
})

QUOTA_TPS = 20.0
QUOTA_BURST = 200.0
TOKEN_LIFE_H = 12.0
SAFETY_MARGIN_H = 300 / 3600  # our cache stops serving a 12 h token 5 minutes before expiry
HOSTS = [1, 3, 10, 30, 100, 300, 1000, 3000, 10000]
BURSTS = [1, 4, 16, 64]

# --- measuring ------------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Fake:
    """scripts/fake_ecr.py on a free port, counting calls."""

    def __init__(self, work, ttl):
        self.port = free_port()
        self.count_file = os.path.join(work, "calls-%d" % self.port)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "scripts", "fake_ecr.py"),
             str(self.port), self.count_file, str(ttl)])
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("fake_ecr.py did not start")
                time.sleep(0.05)

    def calls(self):
        try:
            with open(self.count_file) as f:
                return int(f.read() or 0)
        except FileNotFoundError:
            return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Node:
    """One simulated host: a private HOME and runtime dir, static test keys, our binary."""

    def __init__(self, binary, fake, cache, daemon):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="fleet-")
        for sub in ("home", "run", "config", "cache"):
            os.makedirs(os.path.join(self.dir, sub), mode=0o700)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.path.join(self.dir, "home"),
            "XDG_RUNTIME_DIR": os.path.join(self.dir, "run"),
            "XDG_CONFIG_HOME": os.path.join(self.dir, "config"),
            "XDG_CACHE_HOME": os.path.join(self.dir, "cache"),
            "AWS_CONFIG_FILE": os.path.join(self.dir, "none"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.dir, "none"),
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLEFLEET0001",
            "AWS_SECRET_ACCESS_KEY": "fleet-model-secret",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_ECR": "http://127.0.0.1:%d" % fake.port,
            "DOCKER_CREDENTIAL_ECR_CACHE": cache,
            "DOCKER_CREDENTIAL_ECR_DAEMON": "auto" if daemon else "off",
            "DOCKER_CREDENTIAL_ECR_DAEMON_IDLE": "120",
        }
        self.daemon = daemon
        if daemon:
            self.run(["daemon", "start"], "")
            deadline = time.time() + 20
            while '"running":true' not in self.run(["daemon", "status", "--json"], "", check=False)[1]:
                if time.time() > deadline:
                    raise SystemExit("no daemon came up")
                time.sleep(0.05)
            # Every answer below must come from the daemon.
            self.env["DOCKER_CREDENTIAL_ECR_DAEMON"] = "required"

    def spawn(self, args, stdin):
        p = subprocess.Popen([self.binary] + args, env=self.env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return p, stdin

    def run(self, args, stdin, check=True):
        p = subprocess.run([self.binary] + args, env=self.env, input=stdin.encode(),
                           capture_output=True, timeout=60)
        if check and p.returncode != 0:
            raise SystemExit("%s %s failed: %s" % (self.binary, args, p.stderr.decode()))
        return p.returncode, p.stdout.decode()

    def burst(self, k, kubelet=False):
        """k lookups started at once; every one must succeed."""
        args, stdin = (["kubelet"], KUBELET_REQUEST) if kubelet else (["get"], HOST)
        procs = [self.spawn(args, stdin) for _ in range(k)]
        for p, data in procs:
            out, err = p.communicate(data.encode(), timeout=60)
            if p.returncode != 0 or not (b'"Secret"' in out or b'"password"' in out):
                raise SystemExit("lookup failed: %s %s" % (out.decode(), err.decode()))

    def close(self):
        if self.daemon:
            self.env["DOCKER_CREDENTIAL_ECR_DAEMON"] = "auto"
            self.run(["daemon", "stop"], "", check=False)


def version(binary):
    return subprocess.run([binary, "version"], capture_output=True, text=True).stdout.strip()


def measure(binary, out):
    binary = os.path.abspath(binary)
    work = tempfile.mkdtemp(prefix="fleet-model-")
    modes = {
        # name: (cache backend, daemon, kubelet mode)
        "no_cache": ("none", False, False),
        "ours_direct": ("file", False, False),
        "ours_daemon": ("file", True, False),
        "ours_kubelet": ("file", False, True),
    }
    bursts = {}
    for name, (cache, daemon, kubelet) in modes.items():
        bursts[name] = {}
        for k in BURSTS:
            fake = Fake(work, 12 * 3600)
            node = Node(binary, fake, cache, daemon)
            try:
                node.burst(k, kubelet)
                cold = fake.calls()
                if cache != "none":
                    node.burst(k, kubelet)
                    if fake.calls() != cold:
                        raise SystemExit("%s: a warm burst called AWS" % name)
            finally:
                node.close()
                fake.stop()
            bursts[name][str(k)] = cold
            print("burst %-12s k=%-3d -> %d calls" % (name, k, cold), file=sys.stderr)

    # Steady load with short-lived tokens: calls per token lifetime.
    ttl, duration, interval, size = 20.0, 60.0, 0.25, 2
    refresh = {"ttl_s": ttl, "duration_s": duration, "burst_every_s": interval,
               "burst_size": size}
    for name in ("ours_direct", "ours_daemon"):
        cache, daemon, _ = modes[name]
        fake = Fake(work, ttl)
        node = Node(binary, fake, cache, daemon)
        try:
            start = time.time()
            while time.time() - start < duration:
                node.burst(size)
                time.sleep(interval)
        finally:
            node.close()
            fake.stop()
        refresh[name + "_calls"] = fake.calls()
        print("refresh %-12s -> %d calls in %.0f s of %.0f s tokens" %
              (name, fake.calls(), duration, ttl), file=sys.stderr)

    data = {
        "generated_by": "scripts/fleet_model.py measure; do not edit by hand",
        "binary": version(binary),
        "bursts": bursts,
        "refresh": refresh,
    }
    with open(out, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


# --- the model ------------------------------------------------------------------------------


def refresh_fraction(m, name):
    """Measured average time between calls under steady load, as a fraction of the token life.

    The first call of the run is the cold fetch; the rest are refreshes.
    """
    r = m["refresh"]
    calls = r[name + "_calls"]
    return r["duration_s"] / max(calls - 1, 1) / r["ttl_s"]


def models(m, p):
    """Per-host calls per hour for each helper: a function of nothing but the parameters.

    A host makes `pulls` lookups an hour, spread over `keys` cache keys
    (identities x registries), arriving in bursts of `parallelism` at once.
    An on-demand cache renews a key on the first burst after it fell due,
    so a cycle lasts the refresh window W plus the wait for that burst
    (1/beta, beta = bursts per key per hour), and costs the calls that
    burst makes. The daemon renews at its own pace while the key is used at
    least once per half-life, else like an on-demand cache.
    """
    k, keys = p.parallelism, p.keys
    beta = p.pulls / keys / k  # bursts per key per hour
    wait = 1.0 / beta if beta > 0 else math.inf
    b = m["bursts"]
    burst = lambda name: b[name][str(k)] if str(k) in b[name] else None  # noqa: E731

    def on_demand(calls, window_h):
        return keys * calls / (window_h + wait)

    go_window = TOKEN_LIFE_H / 2
    if p.go_key_rotation_hours > 0:
        go_window = min(go_window, p.go_key_rotation_hours)
    daemon_window = refresh_fraction(m, "ours_daemon") * TOKEN_LIFE_H
    daemon_cycle = daemon_window if beta * TOKEN_LIFE_H / 2 >= 1 else daemon_window + wait

    # Our keys include the credentials' secrets: a new secret (IRSA / Pod
    # Identity rotate their token about daily) is a new key, so the cycle
    # restarts at a random point of the old one: on average half a cycle, one
    # extra call per key every 2R hours.
    def rotated(calls_per_burst):
        r = p.secret_rotation_hours
        return keys * calls_per_burst / (2 * r) if r > 0 else 0.0

    return {
        "a": keys * burst("no_cache") * beta,
        "b": on_demand(k, go_window),
        "c": on_demand(burst("ours_direct"), refresh_fraction(m, "ours_direct") * TOKEN_LIFE_H)
        + rotated(burst("ours_direct")),
        "cd": keys * burst("ours_daemon") / daemon_cycle + rotated(burst("ours_daemon")),
        "kr": on_demand(k, TOKEN_LIFE_H / 2),
        "ko": on_demand(burst("ours_kubelet"), TOKEN_LIFE_H - SAFETY_MARGIN_H),
    }


COLUMNS = [
    ("a", "(a) no cache"),
    ("b", "(b) Go helper"),
    ("c", "(c) ours, no daemon"),
    ("cd", "(c) ours, daemon"),
    ("kr", "kubelet + reference plugin"),
    ("ko", "kubelet + ours"),
]
COLORS = {"a": "#888888", "b": "#d62728", "c": "#1f77b4", "cd": "#17becf", "kr": "#ff7f0e",
          "ko": "#2ca02c"}


def cold_burst_calls(m, p):
    """Calls one host's cold start makes: a burst per key, all keys cold."""
    k = str(p.parallelism)
    b = m["bursts"]
    return {"a": b["no_cache"][k], "b": p.parallelism, "c": b["ours_direct"][k],
            "cd": b["ours_daemon"][k], "kr": p.parallelism, "ko": b["ours_kubelet"][k]}


def fmt(x):
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    if x >= 0.01:
        return "%.2f" % x
    return "%.4f" % x


def cell(tps):
    text = fmt(tps)
    return "**%s**" % text if tps > QUOTA_TPS else text


def crossing(per_host_per_h):
    """Hosts at which the fleet reaches the 20 TPS quota."""
    if per_host_per_h <= 0:
        return "never"
    hosts = QUOTA_TPS * 3600 / per_host_per_h
    return "{:,}".format(int(hosts))


def svg_chart(rows):
    """A log-log chart of fleet TPS against hosts, with the quota lines."""
    w, h, left, right, top, bottom = 760, 440, 70, 220, 20, 50
    x0, x1, y0, y1 = 0.0, 4.0, -5.0, 3.0  # log10 hosts, log10 TPS

    def px(hosts):
        return left + (math.log10(hosts) - x0) / (x1 - x0) * (w - left - right)

    def py(tps):
        v = min(max(math.log10(max(tps, 1e-9)), y0), y1)
        return top + (y1 - v) / (y1 - y0) * (h - top - bottom)

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (w, h),
           '<rect width="100%" height="100%" fill="white"/>']
    for e in range(int(x0), int(x1) + 1):
        x = px(10 ** e)
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>' % (x, top, x, h - bottom))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x, h - bottom + 16, "{:,}".format(10 ** e)))
    for e in range(int(y0), int(y1) + 1):
        y = py(10 ** e)
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>' % (left, y, w - right, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (left - 6, y + 4, ("%g" % 10 ** e)))
    out.append('<text x="%d" y="%d" text-anchor="middle">hosts</text>' % ((left + w - right) / 2, h - 10))
    out.append('<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">'
               'GetAuthorizationToken calls/s</text>' % ((top + h - bottom) / 2, (top + h - bottom) / 2))
    for limit, label in ((QUOTA_TPS, "20 TPS quota"), (QUOTA_BURST, "200 burst")):
        y = py(limit)
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black" stroke-dasharray="6 4"/>'
                   % (left, y, w - right, y))
        out.append('<text x="%d" y="%.1f">%s</text>' % (w - right + 6, y + 4, label))
    for i, (key, label) in enumerate(COLUMNS):
        pts = " ".join("%.1f,%.1f" % (px(hosts), py(tps[key])) for hosts, tps in rows)
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (COLORS[key], pts))
        ly = top + 230 + i * 18
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>'
                   % (w - right + 6, ly, w - right + 26, ly, COLORS[key]))
        out.append('<text x="%d" y="%d">%s</text>' % (w - right + 30, ly + 4, label))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def report(m, p):
    per_host = models(m, p)
    rows = [(n, {key: n * v / 3600 for key, v in per_host.items()}) for n in HOSTS]
    cold = cold_burst_calls(m, p)
    b, r = m["bursts"], m["refresh"]
    args = ("--pulls %g --parallelism %d --keys %d --go-key-rotation-hours %g "
            "--secret-rotation-hours %g --spread-seconds %g"
            % (p.pulls, p.parallelism, p.keys, p.go_key_rotation_hours, p.secret_rotation_hours,
               p.spread_seconds))
    L = []
    add = L.append
    add("<!-- Generated by scripts/fleet_model.py from docs/fleet-measured.json; do not edit by hand. -->")
    add("# Fleet model: GetAuthorizationToken calls against ECR's quota")
    add("")
    add("ECR allows GetAuthorizationToken **%g TPS sustained, %g burst**, per account and region, "
        "shared by every host of a fleet. This page estimates how many calls a fleet makes with each "
        "credential helper, from 1 to 10,000 hosts. The rates for our helper come from call counts "
        "measured with the real binary (below); the other helpers' behaviour is taken from their code." %
        (QUOTA_TPS, QUOTA_BURST))
    add("")
    add("Regenerate (about 2 minutes; measures, then writes this page and `fleet-model.svg`):")
    add("")
    add("```sh")
    add("cargo build && scripts/fleet_model.py all --bin target/debug/docker-credential-ecr")
    add("scripts/fleet_model.py report --stdout %s   # other parameters: prints, leaves docs/ alone" % args)
    add("```")
    add("")
    add("## Parameters")
    add("")
    add("| parameter | value |")
    add("|---|---|")
    add("| image pulls (credential lookups) per host per hour | %g |" % p.pulls)
    add("| lookups started at once (a burst: compose, a pod's containers, a CI matrix) | %d |" % p.parallelism)
    add("| cache keys per host (identities × registries) | %d |" % p.keys)
    add("| token lifetime | %g h |" % TOKEN_LIFE_H)
    add("| Go helper: access key rotation (instance role, IRSA, SSO: temporary keys) | %s |" %
        ("%g h" % p.go_key_rotation_hours if p.go_key_rotation_hours > 0 else "none (static keys)"))
    add("| ours: rotation of a secret in the cache key (IRSA / Pod Identity token, session keys) "
        "| %s |" % ("%g h" % p.secret_rotation_hours if p.secret_rotation_hours > 0
                    else "none (static keys)"))
    add("")
    add("## Steady state: fleet TPS")
    add("")
    add("Values above the %g TPS quota are bold." % QUOTA_TPS)
    add("")
    add("| hosts | " + " | ".join(label for _, label in COLUMNS) + " |")
    add("|---:|" + "---:|" * len(COLUMNS))
    for n, tps in rows:
        add("| {:,} | ".format(n) + " | ".join(cell(tps[key]) for key, _ in COLUMNS) + " |")
    add("| **hosts at 20 TPS** | " + " | ".join(crossing(per_host[key]) for key, _ in COLUMNS) + " |")
    add("")
    add("![fleet TPS by helper](fleet-model.svg)")
    add("")
    add("At 10,000 hosts, by the number of lookups started at once (other parameters as above):")
    add("")
    add("| parallelism | " + " | ".join(label for _, label in COLUMNS) + " |")
    add("|---:|" + "---:|" * len(COLUMNS))
    for k in BURSTS:
        q = argparse.Namespace(**dict(vars(p), parallelism=k))
        tps = models(m, q)
        add("| %d | " % k + " | ".join(cell(10000 * tps[key] / 3600) for key, _ in COLUMNS) + " |")
    add("")
    add("## Cold start: a whole fleet at once")
    add("")
    add("When every host starts cold within %g s (a fleet boot, a new registry or role rolled out, "
        "a node group replaced), each host makes one burst per key. ECR admits about "
        "%g + %g × %g = %g calls in that time before it throttles." %
        (p.spread_seconds, QUOTA_BURST, QUOTA_TPS, p.spread_seconds,
         QUOTA_BURST + QUOTA_TPS * p.spread_seconds))
    add("")
    add("| helper | calls per host | hosts that fit in %g s |" % p.spread_seconds)
    add("|---|---:|---:|")
    budget = QUOTA_BURST + QUOTA_TPS * p.spread_seconds
    for key, label in COLUMNS:
        calls = cold[key] * p.keys
        add("| %s | %d | %s |" % (label, calls, "{:,}".format(int(budget // calls)) if calls else "any"))
    add("")
    add("Past that, calls are throttled and retried with backoff (ours: within its fetch "
        "timeout), so a larger fleet starts more slowly rather than failing at once. A helper "
        "that calls once per burst instead of once per process spends 1/%d of the bucket "
        "for the same start." % p.parallelism)
    add("")
    add("## Measured inputs")
    add("")
    add("`%s`, against `scripts/fake_ecr.py` on loopback, each case on a fresh cold cache; "
        "every lookup had to succeed, and a second, warm burst had to add no call." % m["binary"])
    add("")
    add("Calls made by one cold burst of k parallel lookups on one host (then a warm one):")
    add("")
    add("| k | no cache (`DOCKER_CREDENTIAL_ECR_CACHE=none`) | ours, no daemon (`get`) | "
        "ours, daemon (`get`, daemon `required`) | ours, `kubelet` |")
    add("|---:|---:|---:|---:|---:|")
    for k in BURSTS:
        s = str(k)
        add("| %d | %d | %d | %d | %d |" % (k, b["no_cache"][s], b["ours_direct"][s],
                                         b["ours_daemon"][s], b["ours_kubelet"][s]))
    add("")
    add("Calls under steady load (a burst of %d every %g s for %g s) with %g s tokens, and the "
        "average time between calls as a fraction of the token's life (the model scales it to 12 h):"
        % (r["burst_size"], r["burst_every_s"], r["duration_s"], r["ttl_s"]))
    add("")
    add("| helper | calls | refresh every |")
    add("|---|---:|---:|")
    for name, label in (("ours_direct", "ours, no daemon"), ("ours_daemon", "ours, daemon")):
        f = refresh_fraction(m, name)
        add("| %s | %d | %.2f of the life (%.1f h of 12 h) |" %
            (label, r[name + "_calls"], f, f * TOKEN_LIFE_H))
    add("")
    add("## The model")
    add("")
    add("Per host, lookups arrive in bursts of %d, spread evenly over %d cache keys, so each key "
        "sees β = pulls / keys / parallelism bursts an hour. A cache that renews on demand renews "
        "a key on the first burst after it fell due: one cycle lasts the refresh window W plus "
        "the wait for that burst (1/β), and costs what one burst calls. Per host and hour, "
        "calls = keys × calls per burst / (W + 1/β)." % (p.parallelism, p.keys))
    add("")
    add("| helper | calls per burst | W |")
    add("|---|---|---|")
    add("| (a) no cache | measured (= k: every lookup calls) | 0 (every burst) |")
    add("| (b) Go helper | k (code reading: no lock, so every process of a burst that finds the "
        "cache stale calls) | half the token life, or the access key's rotation if sooner (the "
        "cache key is the access key id) |")
    add("| (c) ours, no daemon | measured (the per-key lock) | measured refresh interval; a "
        "rotated secret (the key holds the credentials' secrets) restarts the cycle: + keys × "
        "calls per burst / (2 × rotation) |")
    add("| (c) ours, daemon | measured | measured (renewed in the background at 40–45% of the life "
        "while the key is used at least once per half-life; otherwise it lapses and the next "
        "burst fetches) |")
    add("| kubelet + reference plugin | k (no cache of its own; kubelet runs one plugin per "
        "*image* at once) | half the token life (its `cacheDuration`) |")
    add("| kubelet + ours | measured (`kubelet` mode, same lock) | the token life minus 5 minutes "
        "(our `cacheDuration`) |")
    add("")
    add("Assumptions and limits:")
    add("")
    add("- Lookups are image pulls that ask a helper: docker, containerd via nerdctl, CI jobs, or "
        "kubelet when its own cache misses. Pulls of images already on the host may not ask.")
    add("- One account and region; with several, each has its own quota and the fleet's "
        "calls divide among them.")
    add("- Hosts are independent and their cycles are spread over time; the steady rates are "
        "averages. The cold-start table is the synchronised worst case.")
    add("- Kubelet with `serializeImagePulls: true` (its default) looks credentials up one pull "
        "at a time, i.e. parallelism 1; EKS sets it to false.")
    add("- The Go helper's figures are derived from its code, not measured: the Debian build "
        "(0.6.0) has no endpoint override to point it at a fake.")
    add("- CI runners: a job with credentials of its own (GitHub OIDC session keys, a GitLab "
        "`id_tokens` web identity token) is its own cache key, so each job pays one call per "
        "registry, by design: its token is not served to another job. At 20 TPS sustained a "
        "fleet can start %s such job × registry pairs an hour (plus the 200-call burst); jobs "
        "sharing an instance role share its tokens as above." % fmt(QUOTA_TPS * 3600))
    add("")
    return {DOC: "\n".join(L), SVG: svg_chart(rows)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["measure", "report", "all"])
    ap.add_argument("--bin", help="the docker-credential-ecr binary to measure")
    ap.add_argument("--out", default=MEASURED, help="measurements file (measure)")
    ap.add_argument("--measured", default=MEASURED, help="measurements file (report)")
    ap.add_argument("--check", action="store_true",
                    help="report: fail if the committed docs differ from what they should be")
    ap.add_argument("--stdout", action="store_true",
                    help="report: print the page instead of writing docs/")
    ap.add_argument("--pulls", type=float, default=30.0)
    ap.add_argument("--parallelism", type=int, default=16, choices=BURSTS)
    ap.add_argument("--keys", type=int, default=2)
    ap.add_argument("--go-key-rotation-hours", type=float, default=1.0)
    ap.add_argument("--secret-rotation-hours", type=float, default=24.0)
    ap.add_argument("--spread-seconds", type=float, default=60.0)
    p = ap.parse_args()
    if p.command in ("measure", "all"):
        if not p.bin:
            ap.error("--bin is required to measure")
        measure(p.bin, p.out)
        p.measured = p.out
    if p.command in ("report", "all"):
        with open(p.measured) as f:
            m = json.load(f)
        outputs = report(m, p)
        if p.stdout:
            print(outputs[DOC])
        elif p.check:
            stale = []
            for path, fresh in outputs.items():
                try:
                    with open(path) as f:
                        if f.read() != fresh:
                            stale.append(path)
                except FileNotFoundError:
                    stale.append(path)
            if stale:
                print("out of date (run scripts/fleet_model.py report): " + ", ".join(stale),
                      file=sys.stderr)
                sys.exit(1)
        else:
            for path, text in outputs.items():
                with open(path, "w") as f:
                    f.write(text)


if __name__ == "__main__":
    main()
