#!/usr/bin/env python3
"""Writes docs/benchmarks.md from what scripts/bench.sh measured; nothing here is typed by hand.

Usage (by bench.sh): bench_report.py DOC WORK OURS_VERSION GO_VERSION HYPERFINE_VERSION
                     BUILT RUNS SLOW_RUNS PAR_RUNS LOAD_START LOAD_END FAULT_RUNS
                     CLEAN_BUILDS BUILD_NICE LOAD_BUILD
"""
import datetime
import glob
import json
import os
import platform
import statistics
import sys

(doc, work, ours_v, go_v, hf_v, built, runs, slow_runs, par_runs, load_start, load_end,
 fault_runs, clean_builds, build_nice, load_build) = sys.argv[1:]


def rows(*files):
    """(name, median ms, mean ms, stddev ms, min ms, max ms) for each hyperfine result."""
    out = []
    for f in files:
        for r in json.load(open(os.path.join(work, f)))["results"]:
            t = [x * 1000 for x in r["times"]]
            out.append((r["command"], statistics.median(t), r["mean"] * 1000, (r["stddev"] or 0) * 1000, min(t), max(t)))
            cpu_ms[r["command"]] = (r["user"] * 1000, r["system"] * 1000)
    return out


cpu_ms = {}  # name -> (mean user ms, mean system ms)


def calls(f):
    """name -> list of API calls per run, from a NAME: n n n file."""
    out = {}
    for line in open(os.path.join(work, f)):
        name, _, counts = line.rstrip("\n").rpartition(": ")
        out[name] = [int(c) for c in counts.split()]
    return out


def text(f):
    return open(os.path.join(work, f)).read().strip()


def ratio(ours, go, better="faster", worse="slower"):
    """ours / Go, and how many times faster (or smaller) ours is."""
    if not ours or not go:
        return ""
    r = ours / go
    return f"{r:.2f} ({go / ours:.1f}× {better})" if r <= 1 else f"{r:.2f} ({r:.1f}× {worse})"


def times(go, ours):
    """How many times faster ours is; hyperfine's shell correction can leave a ~1 ms median at 0."""
    if ours <= 0:
        return f"not measurable: median {ours:.2f} ms after hyperfine's shell correction (vs {go:.2f} ms); see §0"
    return f"{go / ours:.1f}× ({ours:.2f} ms vs {go:.2f} ms)"


def ms(x):
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def met(ok):
    return "**met**" if ok else "**NOT met**"


warm = rows("warm.json", "keyutils.json", "ss.json", "daemon.json")
by = {r[0]: r[1] for r in warm}
go_warm = by["Go helper, warm file cache"]
go_warm_ca = by["Go helper, warm, AWS_CA_BUNDLE set"]
base = by["empty process (/bin/true)"]
default_name = next(n for n in by if n.startswith("ours, default (auto"))
default = by[default_name]
daemon = by["ours, through the daemon"]

cold = rows("cold.json")
cold_by = {r[0]: r[1] for r in cold}
cold_calls = calls("cold.calls")
go_cold = cold_by["Go helper, cold"]

seq = rows("seq20.json", "seq20d.json")
seq_by = {r[0]: r[1] for r in seq}
go_seq = seq_by["Go helper, 20 in sequence"]

par = rows("par64.json")
par_by = {r[0]: r[1] for r in par}
par_calls = calls("par64.calls")
go_par = par_by["Go helper, 64 parallel cold"]

nocreds = rows("nocreds-ours.json", "nocreds-go.json")
nc_by = {r[0]: r[1] for r in nocreds}
go_nc = nc_by["Go helper, no credentials, IMDS black-holed"]

rss = {}
for line in open(os.path.join(work, "rss.txt")):
    name, _, kib = line.strip().rpartition("=")
    rss[name] = int(kib)
go_rss_warm = rss["Go helper, warm"]
go_rss_cold = rss["Go helper, cold"]

# Build routes (section 0).
R = os.path.join(work, "routes")
MiB = 1024 * 1024


def rfile(name, f):
    path = os.path.join(R, name, f)
    return open(path).read().strip() if os.path.exists(path) else ""


route_names = [l.strip() for l in open(os.path.join(R, "list")) if l.strip()]
measured_routes = [l.strip() for l in open(os.path.join(R, "measured")) if l.strip()]
OPT_OUTS = {"no-pie", "pie"}


def spawn_stats(prefix, rss_path):
    """Medians over bench_spawn.py's runs (PREFIX.<round>.json): wall ms, CPU (user + system) ms,
    minor faults; peak RSS KiB (GNU time)."""
    runs = [r for f in sorted(glob.glob(prefix + ".*.json")) for r in json.load(open(f))]
    return dict(
        wall=statistics.median(r["wall"] for r in runs),
        cpu=statistics.median(r["user"] + r["system"] for r in runs),
        faults=statistics.median(r["minflt"] for r in runs),
        rss=int(open(rss_path).read().strip()),
        n=len(runs),
    )


route = {}
for name in route_names:
    etype, linkage, relocs = rfile(name, "link").split()
    build = rfile(name, "build").split()
    same = rfile(name, "same-as")
    route[name] = dict(
        how=rfile(name, "how"), sha=rfile(name, "sha"), size=int(rfile(name, "size")), etype=etype,
        linkage=linkage, relocs=int(relocs), build=[float(x) for x in build] if build else None, same=same,
        warm=spawn_stats(os.path.join(R, same, "warm"), os.path.join(R, same, "warm.rss")),
        cold=spawn_stats(os.path.join(R, same, "cold"), os.path.join(R, same, "cold.rss")),
    )
go_r = dict(warm=spawn_stats(os.path.join(work, "go-warm"), os.path.join(work, "go-warm.rss")),
            cold=spawn_stats(os.path.join(work, "go-cold"), os.path.join(work, "go-cold.rss")),
            size=int(text("go.size")))
route_runs = dict(warm=go_r["warm"]["n"], cold=go_r["cold"]["n"])

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
par_default = "ours, default (daemon auto), 64 parallel cold"
nc_direct = "ours, no credentials, IMDS black-holed"
nc_default = "ours, default (daemon auto), no credentials, IMDS black-holed"

def route_label(name):
    return f"`{name}`" + (" (opt-out)" if name in OPT_OUTS else "")


goals = []
for name, r in route.items():
    w, c, gw, gc = r["warm"], r["cold"], go_r["warm"], go_r["cold"]
    goals.append((f"{route_label(name)}: cold `get` CPU ≤ ½ the Go helper's and wall ≤ Go's",
                  f"CPU {c['cpu']:.1f} ms vs {gc['cpu']:.1f} ms ({c['cpu'] / gc['cpu']:.2f}), "
                  f"wall {c['wall']:.1f} ms vs {gc['wall']:.1f} ms",
                  c["cpu"] <= gc["cpu"] / 2 and c["wall"] <= gc["wall"]))
    goals.append((f"{route_label(name)}: warm `get` ≥3× faster than the Go helper, peak RSS ≤ 5 MiB",
                  f"{gw['wall'] / w['wall']:.1f}× ({w['wall']:.2f} ms vs {gw['wall']:.2f} ms), {w['rss'] / 1024:.1f} MiB",
                  gw["wall"] / w["wall"] >= 3 and w["rss"] <= 5 * 1024))
    goals.append((f"{route_label(name)}: binary ≤ 10 MiB (Go's: {go_r['size'] / MiB:.1f} MiB)",
                  f"{r['size'] / MiB:.1f} MiB", r["size"] <= 10 * MiB))
goals += [
    ("warm `get`, default backend on a headless runner, ≥3× faster than the Go helper warm",
     times(go_warm, default), default > 0 and go_warm / default >= 3),
    ("warm `get` through the daemon, ≥3× faster than the Go helper warm",
     times(go_warm, daemon), daemon > 0 and go_warm / daemon >= 3),
    ("64 parallel cold `get`s make 1 API call (default configuration)",
     f"calls per run: {' '.join(map(str, par_calls[par_default]))} (Go: {' '.join(map(str, par_calls['Go helper, 64 parallel cold']))})",
     all(c == 1 for c in par_calls[par_default])),
    ("no credentials, instance metadata black-holed: an answer in ≤1 s",
     f"{nc_by[nc_default] / 1000:.2f} s default, {nc_by[nc_direct] / 1000:.2f} s direct (Go: {go_nc / 1000:.1f} s)",
     max(nc_by[nc_default], nc_by[nc_direct]) <= 1000),
]

L = [
    "# Benchmarks",
    "",
    "Generated by `scripts/bench.sh` (as root; see its header); never edited by hand. Re-run it to refresh.",
    "",
    f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
    f"- machine: {os.cpu_count()} cores ({cpu}), Linux {platform.release()}; shared with other work "
    f"(load average {load_start} at the start, {load_end} at the end), so compare rows within this run",
    f"- ours: `{ours_v}`, {built}",
    f"- Go: Debian amazon-ecr-credential-helper, {go_v}",
    f"- {hf_v}: medians of {runs} runs for warm rows (after warm-up), {slow_runs} for cold and sequence rows,",
    f"  {par_runs} for 64-parallel rows, 10 (ours) and 3 (Go) without credentials. Commands read the registry",
    "  host from a file on stdin; hyperfine subtracts its shell's start-up, imprecise below ~5 ms but equal for every row.",
    "- the same path to the API for both: `api.ecr.us-east-1.amazonaws.com` → `/etc/hosts` → `scripts/fake_ecr.py`",
    "  serving TLS on loopback with a CA in the system store (the Go helper 0.6.0 has no endpoint override). The",
    "  endpoint counts calls per client (User-Agent); warm rows are checked to have made none.",
    "- `ours / Go`: our median divided by the Go helper's (below 1 is better for us).",
    "",
    "## Goals",
    "",
    "| goal | measured | |",
    "|---|---|---|",
]
for goal, measured, ok in goals:
    L.append(f"| {goal} | {measured} | {met(ok)} |")

def build_time(r):
    if not r["build"]:
        return "not measured"
    wall, user, system = r["build"]
    if clean_builds != "1":
        return f"{wall:.0f} s (not clean: CLEAN_BUILDS=0)"
    return f"{wall // 60:.0f} min {wall % 60:02.0f} s (CPU {(user + system) / 60:.1f} min)"


notes = {
    "install.sh": "clean build (fresh target directory)",
    "cargo-build": "after install.sh, same target directory: install.sh runs this very command, nothing left to build",
    "deb": "after install.sh: build-release.sh stages what install.sh builds (no-op build + man pages, tarball, .deb if cargo-deb is installed)",
    "cargo-install": "clean build in its own target directory",
    "no-pie": "relink only (the link argument changed)",
    "pie": "relink only",
}
L += [
    "",
    "## 0. Build routes",
    "",
    "Every way of getting the binary, built in this run on this machine ("
    + (f"builds under `nice -n {build_nice}`; " if build_nice != "0" else "")
    + f"load average at the end of the builds: {load_build}). build.rs links it statically and not as PIE on Linux/glibc",
    "for every route; routes whose bytes are identical are measured once.",
    "",
    "| route | how | binary (sha256) | size (MiB) | ELF type, linkage, relative relocations | build time | |",
    "|---|---|---|---:|---|---|---|",
]
for name, r in route.items():
    same = "" if r["same"] == name else f"identical to `{r['same']}`"
    L.append(f"| {route_label(name)} | {r['how']} | `{r['sha']}` {same} | {r['size'] / MiB:.1f} | "
             f"{r['etype']}, {r['linkage']}, {r['relocs']} | {build_time(r)} | {notes.get(name, '')} |")
L += [
    f"| Go helper | Debian's package | | {go_r['size'] / MiB:.1f} | | (not built here) | |",
    "",
    f"Per distinct binary, medians of {route_runs['warm']} warm and {route_runs['cold']} cold runs of `get` started by `scripts/bench_spawn.py`",
    "(posix_spawn, no shell; wall = spawn to reaped; CPU = user + system and minor page faults from the child's rusage),",
    "ours and Go's in alternating rounds;",
    f"peak RSS from GNU time (median of {fault_runs}).",
    "",
    "| binary | warm wall (ms) | warm CPU (ms) | warm page faults | warm peak RSS (MiB) | cold wall (ms) | cold CPU (ms) | cold page faults | cold peak RSS (MiB) | warm: × faster than Go | cold CPU / Go's |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]


def stat_cells(x):
    w, c = x["warm"], x["cold"]
    return (f"{w['wall']:.2f} | {w['cpu']:.2f} | {w['faults']:.0f} | {w['rss'] / 1024:.1f} | "
            f"{c['wall']:.1f} | {c['cpu']:.1f} | {c['faults']:.0f} | {c['rss'] / 1024:.1f}")


for name in measured_routes:
    r = route[name]
    L.append(f"| {route_label(name)} | {stat_cells(r)} | {go_r['warm']['wall'] / r['warm']['wall']:.1f}× | "
             f"{r['cold']['cpu'] / go_r['cold']['cpu']:.2f} |")
L += [
    f"| Go helper | {stat_cells(go_r)} | | |",
    "",
    "- TLS is rustls on *ring* (src/token/aws.rs `https_client`): no aws-lc, so no CPU jitter entropy seeding per",
    "  process; key material comes from the OS CSPRNG (getrandom). CI checks that aws-lc stays out (.ci/run, tests/it/packaging.rs).",
    "- The opt-outs show why build.rs links statically: the dynamic loader's relocations and shared libc cost page faults",
    "  and CPU on every `get`.",
]

L += [
    "",
    "## 1. Warm `get` (token already cached)",
    "",
    "| command | median (ms) | mean ± σ (ms) | ours / Go |",
    "|---|---:|---:|---:|",
]
for name, med, mean, sd, *_ in warm:
    ref = go_warm_ca if "CA_BUNDLE" in name else go_warm
    r = ratio(med, ref) if name.startswith("ours") else ""
    L.append(f"| {name} | {med:.2f} | {mean:.2f} ± {sd:.2f} | {r} |")
ss = by["ours, Secret Service backend"]
L += [
    "",
    f"- The default backend as a headless runner has it (no D-Bus session bus): `auto` picked `{default_name.split('-> ')[1].rstrip(')')}`.",
    "- With `AWS_CA_BUNDLE` set (common on corporate machines), the Go helper parses the bundle on every call; we read it only for a network call.",
    f"- Secret Service costs a D-Bus connection per process ({ss:.2f} ms); it is chosen only where no kernel keyring is usable and a desktop session bus is, and through the daemon no `get` process touches it.",
    f"- Through the daemon: +{daemon - base:.2f} ms over an empty process ({base:.2f} ms, dynamically linked `/bin/true`).",
    "",
    "## 2. Cold `get` (cache emptied before each run)",
    "",
    "| command | median (ms) | min–max (ms) | CPU user + system (ms, mean) | API calls per run (5 runs) | ours / Go |",
    "|---|---:|---:|---:|---|---:|",
]
for name, med, mean, sd, lo, hi in cold:
    r = ratio(med, go_cold) if name.startswith("ours") else ""
    user, system = cpu_ms[name]
    L.append(f"| {name} | {ms(med)} | {ms(lo)}–{ms(hi)} | {user:.1f} + {system:.1f} | {' '.join(map(str, cold_calls[name]))} | {r} |")
L += [
    "",
    "Both make one TLS connection and one GetAuthorizationToken call, then write their cache. \"default\" is a user's",
    "first `get` with no daemon running: it answers directly and starts the daemon in the background.",
    "",
    "## 3. A legacy `docker build`'s credential pass: 20 `credHelpers` entries in sequence (warm)",
    "",
    "The legacy builder runs `get` for every `credHelpers` entry, one after another, before each build",
    "(docker/cli `GetAllCredentials`). 20 registries (accounts), each token already cached; no API call.",
    "",
    "| command | median (ms) | per entry (ms) | ours / Go |",
    "|---|---:|---:|---:|",
]
for name, med, *_ in seq:
    r = ratio(med, go_seq) if name.startswith("ours") else ""
    L.append(f"| {name} | {ms(med)} | {med / 20:.2f} | {r} |")
L += [
    "",
    "## 4. 64 parallel cold `get`s for one registry",
    "",
    "As compose, kubelet or a CI matrix start them. Each run starts from an empty cache (and no daemon);",
    "all 64 must succeed. API calls counted at the endpoint for 5 separate runs.",
    "",
    "| command | median wall time (ms) | API calls per run | ours / Go |",
    "|---|---:|---|---:|",
]
for name, med, *_ in par:
    r = ratio(med, go_par) if name.startswith("ours") else ""
    L.append(f"| {name} | {ms(med)} | {' '.join(map(str, par_calls[name]))} | {r} |")
L += [
    "",
    "## 5. No credentials, instance metadata black-holed",
    "",
    "No keys, no config files, `AWS_EC2_METADATA_SERVICE_ENDPOINT` pointing at an address whose SYNs are",
    "never answered (`tests/e2e/blackhole.py`: a full listen queue, no firewall rule), as on a laptop or a",
    "container where the metadata service is filtered. Both answer `credentials not found in native keychain`.",
    "",
    "| command | median (s) | min–max (s) | ours / Go |",
    "|---|---:|---:|---:|",
]
for name, med, mean, sd, lo, hi in nocreds:
    r = ratio(med, go_nc) if name.startswith("ours") else ""
    L.append(f"| {name} | {med / 1000:.2f} | {lo / 1000:.2f}–{hi / 1000:.2f} | {r} |")
L += [
    "",
    f"- ours, on stderr (what docker and podman show the user): `` {text('nocreds-ours.why')} ``",
    f"- Go, in its log file `~/.ecr/log/ecr-login.log` (its stderr is silent): `` {text('nocreds-go.why')} ``",
    "",
    "## 6. Peak RSS of one `get` (GNU time `%M`, median of 30)",
    "",
    "| process | peak RSS (MiB) | ours / Go |",
    "|---|---:|---:|",
]
for name, kib in rss.items():
    ref = go_rss_cold if "cold" in name else go_rss_warm
    r = ratio(kib, ref, "smaller", "larger") if name.startswith("ours") else ""
    L.append(f"| {name} | {kib / 1024:.1f} | {r} |")
n_fetch, ticks, hz, fetch_calls = map(int, text("daemon.fetch").split())
L += [
    "",
    "## 7. The daemon",
    "",
    "| what | measured |",
    "|---|---:|",
    f"| idle RSS, 2 s after answering one `get` (VmRSS) | {int(text('daemon.idle-rss')) / 1024:.1f} MiB |",
    f"| CPU of one fetch (what a refresh runs: the daemon's work plus its fetch child), mean of {n_fetch} | "
    f"{ticks * 1000 / hz / n_fetch:.1f} ms |",
    f"| API calls for those {n_fetch} fetches | {fetch_calls} |",
    f"| RSS after them (VmRSS, {n_fetch + 1} tokens held) | {int(text('daemon.rss-after')) / 1024:.1f} MiB |",
    "",
    f"The fetch CPU comes from /proc (the daemon's and its reaped children's clock ticks, 1/{hz} s each) over all {n_fetch}",
    "fetches, each for an account the daemon had not seen (a miss: one fetch child, one API call over TLS).",
]
L.append("")
open(doc, "w").write("\n".join(L))
print("\n".join(L))
