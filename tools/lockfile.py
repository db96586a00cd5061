"""Keep the virtualenv exactly what the lock files say.

    python tools/lockfile.py check LOCK...   exit 1 if a package is installed that no LOCK holds,
                                             or at another version, or a locked one is missing;
                                             or a top-level pin (requirements*.txt) is not what
                                             its lock says (edited without `make lock`)
    python tools/lockfile.py sync LOCK...    uninstall every package no LOCK holds (what a lock
                                             upgrade dropped); `make` runs it after installing

Standard library only (plus `packaging` for `check`, which the test lock holds): `sync` runs in
a runtime-only virtualenv too.
"""

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>[^\s;\\]+)\s*(;(?P<marker>[^\\]*))?")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> list[tuple[str, str, str]]:
    """(canonical name, version, marker) of each `name==version` line, following `-r` includes;
    hashes and comments are skipped."""
    pins = []
    for line in path.read_text().splitlines():
        if line.startswith("-r "):
            pins.extend(read_pins(path.parent / line[3:].strip()))
        elif match := REQUIREMENT.match(line):
            pins.append((canonical(match["name"]), match["version"], (match["marker"] or "").strip()))
    return pins


def installed() -> list[tuple[str, str]]:
    """(canonical name, version) of every distribution on sys.path, a name twice if it is there twice."""
    return sorted((canonical(dist.metadata["Name"]), dist.version) for dist in importlib.metadata.distributions())


def locked_names(locks: list[Path]) -> set[str]:
    return {name for lock in locks for name, _, _ in read_pins(lock)}


def not_locked(locks: list[Path]) -> list[str]:
    return sorted({name for name, _ in installed()} - locked_names(locks))


def top_level_drift(lock: Path) -> list[str]:
    """Pins of the lock's top-level list (requirements-test.lock: requirements-test.txt) that the
    lock does not hold: the list was edited and not locked again."""
    top_level = lock.with_suffix(".txt")
    if not top_level.exists():
        return []
    locked = {name: version for name, version, _ in read_pins(lock)}
    return [f"{top_level.name} pins {name}=={version} but {lock.name} has {locked.get(name, 'nothing')}: "
            "run `make lock`" for name, version, _ in read_pins(top_level) if locked.get(name) != version]


def problems(locks: list[Path]) -> list[str]:
    from packaging.markers import Marker
    from packaging.version import Version

    found = [problem for lock in locks for problem in top_level_drift(lock)]
    wanted = {name: (version, lock.name) for lock in locks for name, version, marker in read_pins(lock)
              if not marker or Marker(marker).evaluate()}
    allowed = locked_names(locks)
    have = installed()
    for name, version in have:
        if name not in allowed:
            found.append(f"{name}=={version} is installed but in no lock file ({', '.join(lock.name for lock in locks)})")
        elif name in wanted and Version(version) != Version(wanted[name][0]):
            found.append(f"{name}=={version} is installed but {wanted[name][1]} has {wanted[name][0]}")
    have_names = {name for name, _ in have}
    found += [f"{name}=={version} ({lock}) is not installed" for name, (version, lock) in sorted(wanted.items())
              if name not in have_names]
    return found


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("check", "sync"):
        print(__doc__, file=sys.stderr)
        return 2
    command, locks = argv[0], [Path(arg) for arg in argv[1:]]
    if command == "sync":
        if extra := not_locked(locks):
            print(f"uninstalling what no lock holds: {' '.join(extra)}")
            subprocess.run([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", *extra], check=True)
        return 0
    found = problems(locks)
    for problem in found:
        print(f"lock check: {problem}", file=sys.stderr)
    if found:
        print("The virtualenv must hold exactly the lock files: undo the manual install, or add the package "
              "to requirements*.txt and run `make lock`.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
