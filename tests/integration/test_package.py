"""The Debian package (tools/package.sh), built from the build under test and installed with
the real dpkg into a scratch root, never into the host.

  * the package's control data: name, version, architecture, conffile, maintainer scripts,
    and Depends naming the package of every shared library the binaries are linked against
    (found here independently: ldd, then dpkg -S);
  * its contents: the binaries, the unit, the config, the docs, all owned by root;
  * installed with `dpkg --root DIR --force-script-chrootless` into a temp root whose dpkg
    database holds the host's own records of the Depends packages, so dpkg checks the
    Depends versions for real; the postinst runs (with DPKG_ROOT) and must create the
    ringcast user and group in DIR's /etc/passwd and /etc/group and nothing on the host;
  * the installed server, started as the unit starts it (ExecStart with DIR in front of its
    paths) and as the unit's user, with the installed config and a free loopback port:
    /healthz, a publish reaching a stream byte-exact, the installed ringcast-load's run,
    and SIGTERM exiting 0; the installed ringcast-capacity finds its installed figures;
  * every commented example of the installed config is accepted when switched on;
  * `dpkg --purge` removes it again (files, conffile).

The package is built from the build dir of $RINGCAST_BIN (no second build), which must be a
Release or RelWithDebInfo build (the test skips on a sanitizer build: that is no package).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

from ringcast_harness import RingcastTestCase, Server, encode_event, ringcast_bin

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PACKAGE_SH = os.path.join(ROOT, "tools", "package.sh")
CONFIG_SOURCE = os.path.join(ROOT, "docs", "deploy", "ringcast.toml")
UNIT_PATH = "lib/systemd/system/ringcast.service"
CONFIG_PATH = "etc/ringcast/ringcast.toml"

# Every file the package must ship (paths inside the package) and its mode.
REQUIRED = {
    "usr/bin/ringcast": 0o755,
    "usr/bin/ringcast-load": 0o755,
    "usr/bin/ringcast-capacity": 0o755,
    "usr/share/ringcast/results-small.json": 0o644,
    UNIT_PATH: 0o644,
    CONFIG_PATH: 0o644,
    "usr/share/doc/ringcast/README.md": 0o644,
    "usr/share/doc/ringcast/copyright": 0o644,
    "usr/share/doc/ringcast/changelog.Debian.gz": 0o644,
    "usr/share/doc/ringcast/docs/PROTOCOL.md": 0o644,
    "usr/share/doc/ringcast/docs/deploy/README.md": 0o644,
    "usr/share/doc/ringcast/docs/deploy/alerts.yml": 0o644,
    "usr/share/doc/ringcast/docs/deploy/grafana-dashboard.json": 0o644,
}
ALLOWED_PREFIXES = ("etc/ringcast/", "lib/systemd/system/", "usr/bin/", "usr/share/doc/ringcast/",
                    "usr/share/ringcast/")
# The libraries the brief names; the ldd check below finds every other one.
NAMED_DEPENDS = ("liburing2", "libssl3", "libmimalloc2.0", "libhiredis0.14", "libtomlplusplus3")


def run(argv, timeout=120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)


def checked(argv, timeout=120, **kw) -> str:
    done = run(argv, timeout, **kw)
    if done.returncode != 0:
        raise AssertionError(f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def read(*path: str) -> str:
    with open(os.path.join(*path)) as f:
        return f.read()


def depends_names(field: str) -> list[str]:
    """Package names of a Depends field (alternatives included)."""
    names = []
    for part in field.split(","):
        for alt in part.split("|"):
            names.append(re.sub(r"\s*\(.*\)", "", alt).strip().split(":")[0])
    return [n for n in names if n]


def owning_package(path: str) -> str:
    """The installed package that ships `path` (usrmerge: tried as /lib and /usr/lib)."""
    real = os.path.realpath(path)
    candidates = [path, real]
    for p in list(candidates):
        if p.startswith("/usr/lib/"):
            candidates.append(p[len("/usr"):])
        elif p.startswith("/lib/"):
            candidates.append("/usr" + p)
    for p in candidates:
        done = run(["dpkg", "-S", p], timeout=30)
        if done.returncode == 0:
            return done.stdout.split(":", 1)[0].split(",")[0].strip()
    raise AssertionError(f"no installed package ships {path} (tried {candidates})")


def linked_packages(binary: str) -> set[str]:
    out = checked(["ldd", binary], timeout=30)
    libs = re.findall(r"=> (/\S+) \(0x", out)
    if not libs:
        raise AssertionError(f"ldd found no libraries in {binary}:\n{out}")
    return {owning_package(lib) for lib in libs}


def host_state() -> tuple[bytes, bytes, str]:
    """What an install on the host would change: users, groups, dpkg's record of ringcast."""
    with open("/etc/passwd", "rb") as f:
        passwd = f.read()
    with open("/etc/group", "rb") as f:
        group = f.read()
    done = run(["dpkg-query", "-W", "-f=${Status} ${Version}", "ringcast"], timeout=30)
    return passwd, group, done.stdout if done.returncode == 0 else "not installed"


class PackageTest(RingcastTestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("dpkg", "dpkg-deb", "dpkg-shlibdeps", "ldd"):
            if shutil.which(tool) is None:
                raise AssertionError(f"{tool} is missing (build-essential brings dpkg-dev)")
        cls.bin = os.path.abspath(ringcast_bin())
        cls.build = os.path.dirname(cls.bin)
        with open(os.path.join(cls.build, "CMakeCache.txt")) as f:
            m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(\w*)$", f.read(), re.M)
        cls.build_type = m.group(1) if m else ""
        if cls.build_type not in ("Release", "RelWithDebInfo"):
            raise unittest.SkipTest(f"the package is built from Release; this is {cls.build_type}")
        with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
            cls.version = re.search(r"^project\(ringcast VERSION ([0-9.]+)", f.read(), re.M).group(1)
        cls.arch = checked(["dpkg", "--print-architecture"]).strip()
        cls.tmp = tempfile.mkdtemp(prefix="ringcast-pkg-")
        try:
            out = checked([PACKAGE_SH, "--build-dir", cls.build, "--out", cls.tmp, "--no-build"])
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise
        cls.deb = out.strip().splitlines()[-1]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def field(self, name: str) -> str:
        return checked(["dpkg-deb", "-f", self.deb, name]).strip()

    # ---- the .deb itself ----
    def test_control(self):
        self.assertEqual(os.path.basename(self.deb), f"ringcast_{self.version}_{self.arch}.deb")
        self.assertEqual(self.field("Package"), "ringcast")
        self.assertEqual(self.field("Version"), self.version)
        self.assertEqual(self.field("Architecture"), self.arch)
        self.assertTrue(self.field("Maintainer"))
        info = checked(["dpkg-deb", "-I", self.deb])
        for script in ("postinst", "prerm", "postrm"):
            self.assertRegex(info, rf"\n\s+\d+ bytes,\s+\d+ lines\s+\*\s+{script}\s", script)
        conffiles = checked(["dpkg-deb", "-I", self.deb, "conffiles"]).split()
        self.assertEqual(conffiles, ["/" + CONFIG_PATH])

        depends = depends_names(self.field("Depends"))
        for name in NAMED_DEPENDS + ("passwd", "python3"):
            self.assertIn(name, depends)
        load_bin = os.path.join(self.build, "tools", "load", "ringcast-load")
        for binary in (self.bin, load_bin):
            for pkg in linked_packages(binary):
                self.assertIn(pkg, depends, f"{binary} links a library of {pkg}")

    def test_contents(self):
        listing = checked(["dpkg-deb", "-c", self.deb])
        entries = {}
        for line in listing.splitlines():
            m = re.match(r"^([-dl])([rwxsStT-]{9}) (\S+)/(\S+)\s+\d+ \S+ \S+ \./(.*)$", line)
            self.assertIsNotNone(m, f"unexpected dpkg-deb -c line {line!r}")
            kind, perms, owner, group, path = m.groups()
            self.assertEqual((owner, group), ("root", "root"), line)
            if kind == "d" or not path:
                continue
            self.assertTrue(path.startswith(ALLOWED_PREFIXES), f"{path} outside the package's dirs")
            mode = sum(1 << (8 - i) for i, c in enumerate(perms) if c != "-")
            entries[path] = mode
        for path, mode in REQUIRED.items():
            self.assertIn(path, entries)
            self.assertEqual(oct(entries[path]), oct(mode), path)

    # ---- installed ----
    def make_root(self) -> str:
        """An empty system root: root's passwd and group entries, and a dpkg database holding
        the host's status records of the packages ringcast depends on (so dpkg checks the
        Depends, versions included, against what Debian 12 has installed here)."""
        root = tempfile.mkdtemp(prefix="root-", dir=self.tmp)
        os.chmod(self.tmp, 0o755)  # the server runs as the ringcast user and reads from here
        os.chmod(root, 0o755)
        admin = os.path.join(root, "var", "lib", "dpkg")
        for d in ("info", "updates", "triggers"):
            os.makedirs(os.path.join(admin, d))
        os.makedirs(os.path.join(root, "etc"))
        with open(os.path.join(root, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/bash\n"
                    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
        with open(os.path.join(root, "etc", "group"), "w") as f:
            f.write("root:x:0:\nnogroup:x:65534:\n")
        names = sorted(set(depends_names(self.field("Depends"))))
        stanzas = [checked(["dpkg-query", "-s", n], timeout=30).strip() + "\n" for n in names]
        with open(os.path.join(admin, "status"), "w") as f:
            f.write("\n".join(stanzas))
        return root

    def dpkg(self, root: str, *args: str) -> subprocess.CompletedProcess:
        return run(["dpkg", f"--root={root}", "--force-script-chrootless",
                    f"--log={os.path.join(self.tmp, 'dpkg.log')}", *args])

    def test_install_run_purge(self):
        before = host_state()
        root = self.make_root()
        done = self.dpkg(root, "-i", self.deb)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertNotIn("dependency problems", done.stdout + done.stderr)
        status = checked(["dpkg-query", f"--root={root}", "-W", "-f=${Status} ${Version}",
                          "ringcast"])
        self.assertEqual(status, f"install ok installed {self.version}")
        self.assertEqual(host_state(), before, "installing into the scratch root changed the host")

        # postinst: the user and group, /etc/ringcast readable by that group only.
        users, groups = ({l.split(":")[0]: l.split(":") for l in read(root, "etc", name).splitlines()}
                         for name in ("passwd", "group"))
        self.assertIn("ringcast", users)
        self.assertIn("ringcast", groups)
        uid, gid = int(users["ringcast"][2]), int(users["ringcast"][3])
        self.assertEqual(gid, int(groups["ringcast"][2]))
        self.assertLess(uid, 1000, "not a system user")
        self.assertEqual(users["ringcast"][6].strip(), "/usr/sbin/nologin")
        conf_dir = os.stat(os.path.join(root, "etc", "ringcast"))
        self.assertEqual((conf_dir.st_uid, conf_dir.st_gid, oct(conf_dir.st_mode & 0o7777)),
                         (0, gid, "0o750"))
        config = os.path.join(root, CONFIG_PATH)
        with open(config) as f, open(CONFIG_SOURCE) as g:
            self.assertEqual(f.read(), g.read())

        argv, user = self.check_unit(root)
        self.assertEqual(user, "ringcast")
        self.run_installed_server(root, argv, uid, gid)
        self.check_config_examples(root)
        self.check_capacity(root)

        done = self.dpkg(root, "--purge", "ringcast")
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        for path in REQUIRED:
            self.assertFalse(os.path.lexists(os.path.join(root, path)), f"{path} left after purge")
        self.assertFalse(os.path.exists(os.path.join(root, "etc", "ringcast")))
        done = run(["dpkg-query", f"--root={root}", "-W", "ringcast"], timeout=30)
        self.assertNotEqual(done.returncode, 0, "dpkg still lists ringcast after --purge")
        self.assertEqual(host_state(), before, "the scratch install changed the host")

    def check_unit(self, root: str) -> tuple[list[str], str]:
        """The installed unit: ExecStart names installed files; systemd-analyze verify accepts
        it (with ExecStart pointed into the scratch root, as verify looks the binary up)."""
        with open(os.path.join(root, UNIT_PATH)) as f:
            unit = f.read()
        exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1).split()
        user = re.search(r"^User=(\S+)$", unit, re.M).group(1)
        self.assertEqual(exec_start, ["/usr/bin/ringcast", "--config", "/" + CONFIG_PATH])
        argv = [root + exec_start[0], exec_start[1], root + exec_start[2]]
        for path in (argv[0], argv[2]):
            self.assertTrue(os.path.isfile(path), path)
        if shutil.which("systemd-analyze") is not None:
            path = os.path.join(self.tmp, "ringcast.service")
            with open(path, "w") as f:
                f.write(unit.replace("ExecStart=/usr/bin/ringcast", "ExecStart=" + argv[0]))
            done = run(["systemd-analyze", "verify", path], timeout=60)
            complaints = [l for l in (done.stdout + done.stderr).splitlines()
                          if "ringcast.service" in l]
            self.assertEqual((done.returncode, complaints), (0, []), done.stderr)
        return argv, user

    def run_installed_server(self, root: str, argv: list[str], uid: int, gid: int) -> None:
        server = Server()
        server.argv = argv + ["--listen", "127.0.0.1:0", "--shards", "2"]
        server.popen_kwargs = {"user": uid, "group": gid, "extra_groups": []}
        self._servers.append(server)
        self.addCleanup(self._stop_server, server, True)
        server.start()
        with open(f"/proc/{server.proc.pid}/status") as f:
            ids = re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1)
        self.assertEqual(int(ids), uid, "the server does not run as the ringcast user")

        resp = server.request("GET", "/healthz")
        self.assertEqual((resp.status, resp.body.strip()), (200, b"ok"), str(resp))
        stream = server.stream("/sse/pkg")
        stream.wait(lambda s: s.ready, 10, "the stream to be subscribed")
        event_id = server.publish("pkg", b"from the package")
        stream.wait(lambda s: len(s.parser.events) >= 1, 10, "the published event")
        self.assertEqual(stream.parser.events[0].raw, encode_event(event_id, b"from the package"))

        load = os.path.join(root, "usr", "bin", "ringcast-load")
        done = run([load, "run", "--target", f"127.0.0.1:{server.port}", "--streams", "20",
                    "--topics", "1", "--events", "3", "--timeout", "30"], timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        report = json.loads(done.stdout.strip().splitlines()[-1])
        self.assertEqual((report["deliveries_received"], report["lost"], report["duplicates"]),
                         (60, 0, 0), done.stdout)

        self.assertEqual(server.stop(signal.SIGTERM), 0, server.log())

    def check_config_examples(self, root: str) -> None:
        """Each `# key = value` example in the installed config, switched on, is accepted."""
        with open(os.path.join(root, CONFIG_PATH)) as f:
            text = f.read()
        enabled, n = re.subn(r"^# ([a-z][a-z-]* = )", r"\1", text, flags=re.M)
        self.assertGreater(n, 10, "the config has lost its commented examples")
        path = os.path.join(self.tmp, "all-examples.toml")
        with open(path, "w") as f:
            f.write(enabled)
        binary = os.path.join(root, "usr", "bin", "ringcast")
        printed = checked([binary, "--config", path, "--print-config"], timeout=30)
        for key, value in re.findall(r"^([a-z][a-z-]*) = (\S+)", enabled, re.M):
            # A secret given inline is printed redacted and commented out (docs/SECURITY.md).
            self.assertRegex(printed, rf'(?m)^({re.escape(key)} = |# {re.escape(key)} = "<redacted>")', key)

    def check_capacity(self, root: str) -> None:
        tool = os.path.join(root, "usr", "bin", "ringcast-capacity")
        done = run([tool, "--streams", "100000", "--events-per-s", "10", "--box-ram-gib", "8",
                    "--box-cores", "2"], timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("results-small.json", done.stdout)


if __name__ == "__main__":
    unittest.main()
