"""Starting, stopping and restarting sandboxes: fast, on loopback only, leaving no process behind."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pymysql
import pytest
import requests
import yaml

from maint.sandbox import Sandbox, SandboxError, StoreSpec, orchestrator
from maint.sandbox import __main__ as cli
from maint.sandbox.process import ProcessRef


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in the process group a daemon leads."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def listening_addresses(pids: set[int]) -> set[str]:
    """Local addresses of the TCP sockets the given processes listen on (from /proc/net/tcp*)."""
    inodes: set[str] = set()
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        for fd in fd_dir.iterdir() if fd_dir.exists() else ():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A = LISTEN
                addresses.add(cols[1].split(":")[0])
    return addresses


def assert_all_stopped(refs: dict[str, ProcessRef]) -> None:
    left = {name: group_members(ref.pid) for name, ref in refs.items() if group_members(ref.pid)}
    assert not left, f"processes left running: {left}"


def test_sandbox_starts_in_seconds_and_stops_every_process(make_sandbox: Callable[..., Sandbox]) -> None:
    began = time.monotonic()
    sandbox = make_sandbox(stores=[StoreSpec("a", "3.0.3.8"), StoreSpec("b", "4.1.0.4", storage_outside=True)])
    seconds = time.monotonic() - began
    print(f"sandbox with 2 stub stores started in {seconds:.2f}s")
    refs = sandbox.processes()
    assert set(refs) == {"mariadb", "sshd", "php:a", "php:b"}
    assert all(group_members(ref.pid) for ref in refs.values())
    assert seconds < 20

    sandbox.stop()

    assert_all_stopped(refs)
    assert json.loads((sandbox.base / "state.json").read_text())["pids"] == {}


def test_services_listen_on_loopback_only(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox()
    pids = {pid for ref in sandbox.processes().values() for pid in group_members(ref.pid)}
    addresses = listening_addresses(pids)
    assert addresses == {"0100007F"}  # 127.0.0.1 as /proc/net/tcp spells it


def test_stores_answer_http_and_reach_their_database(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(stores=[StoreSpec("a", "3.0.3.8"), StoreSpec("b", "4.1.0.4", storage_outside=True)])
    for name, version in (("a", "3.0.3.8"), ("b", "4.1.0.4")):
        store = sandbox.store(name)
        page = requests.get(store.url, timeout=10)
        assert page.status_code == 200
        assert page.text == f"stub store {version} products=5"
    assert sandbox.store("a").storage == sandbox.store("a").root / "system" / "storage"
    assert sandbox.store("b").storage == sandbox.base / "stores" / "b" / "storage"
    assert sandbox.store("b").storage.is_dir()


def test_store_user_has_all_on_its_own_database_only(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(stores=[StoreSpec("a", "3.0.3.8"), StoreSpec("b", "3.0.3.8")])
    a = sandbox.store("a")
    conn = pymysql.connect(host="127.0.0.1", port=a.db_port, user=a.db_user, password=a.db_password)
    with conn, conn.cursor() as cur:
        cur.execute("SHOW DATABASES")
        assert {row[0] for row in cur.fetchall()} == {"information_schema", a.db_name}
        cur.execute("SHOW GRANTS")
        grants = " ".join(row[0] for row in cur.fetchall())
        assert f"GRANT ALL PRIVILEGES ON `{a.db_name}`.*" in grants
        assert "FILE" not in grants
        with pytest.raises(pymysql.err.OperationalError):
            other = sandbox.store("b").db_name
            cur.execute(f"SELECT COUNT(*) FROM `{other}`.oc_product")  # noqa: S608 (our own test name)


def test_root_has_no_password_less_tcp_login(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox()
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(host="127.0.0.1", port=sandbox.mariadb.port, user="root", password="").close()
    with sandbox.db_admin() as admin, admin.cursor() as cur:
        cur.execute("SELECT @@bind_address, @@local_infile, @@log_bin")
        assert cur.fetchone() == ("127.0.0.1", 1, 0)


def test_two_sandboxes_run_side_by_side(make_sandbox: Callable[..., Sandbox]) -> None:
    first = make_sandbox("first")
    second = make_sandbox("second")
    ports_first = {first.mariadb.port, first.sshd.port, first.store("one").php_port}
    ports_second = {second.mariadb.port, second.sshd.port, second.store("one").php_port}
    assert not ports_first & ports_second
    assert first.known_hosts.read_text() != second.known_hosts.read_text()
    for sandbox in (first, second):
        assert requests.get(sandbox.store("one").url, timeout=10).status_code == 200
    first.stop()
    assert requests.get(second.store("one").url, timeout=10).status_code == 200


def test_database_can_be_stopped_and_started_again(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox()
    store = sandbox.store("one")
    sandbox.mariadb.stop()
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(host="127.0.0.1", port=store.db_port, user=store.db_user, password=store.db_password,
                        connect_timeout=2)
    assert "products=" not in requests.get(store.url, timeout=10).text
    sandbox.mariadb.start()
    assert requests.get(store.url, timeout=10).text.endswith("products=5")


def test_store_web_server_can_be_stopped_and_started_again(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox()
    store = sandbox.store("one")
    sandbox.php_stop("one")
    with pytest.raises(requests.ConnectionError):
        requests.get(store.url, timeout=5)
    assert "php:one" not in json.loads((sandbox.base / "state.json").read_text())["pids"]
    sandbox.php_start("one")
    assert requests.get(store.url, timeout=10).status_code == 200


def test_context_manager_stops_everything_when_the_body_fails(tmp_path: Path, stub_builder: Callable[..., None]) -> None:
    refs: dict[str, ProcessRef] = {}
    with pytest.raises(RuntimeError, match="test failed"):
        with Sandbox(tmp_path / "sb", [StoreSpec("one", "3.0.3.8")], builder=stub_builder) as sandbox:
            refs = sandbox.processes()
            raise RuntimeError("test failed")
    assert refs
    assert_all_stopped(refs)


def test_failed_store_build_stops_what_already_started(tmp_path: Path) -> None:
    def broken_builder(*args: object, **kwargs: object) -> None:
        raise RuntimeError("builder broke")

    sandbox = Sandbox(tmp_path / "sb", [StoreSpec("one", "3.0.3.8")], builder=broken_builder)
    with pytest.raises(RuntimeError, match="builder broke"):
        sandbox.start()
    state = json.loads((sandbox.base / "state.json").read_text())
    assert state["pids"] == {}
    assert sandbox.mariadb.ref is None and sandbox.sshd.ref is None


def test_client_files_describe_the_sandbox(make_sandbox: Callable[..., Sandbox]) -> None:
    from maint.inventory import load_inventory

    sandbox = make_sandbox(client="acme")
    env = sandbox.env()
    assert env == {
        "FABRIC_MAINT_SSH_CONFIG": str(sandbox.base / "ssh" / "ssh_config"),
        "FABRIC_MAINT_KNOWN_HOSTS": str(sandbox.base / "ssh" / "known_hosts"),
        "FABRIC_MAINT_STATE_DIR": str(sandbox.base / "state"),
        "FABRIC_MAINT_INVENTORY": str(sandbox.base / "inventory"),
    }
    for key, value in env.items():
        assert f"export {key}={value}\n" in (sandbox.base / "env").read_text()
    inventory = load_inventory(sandbox.base / "inventory")
    client, entry = inventory.find_store("one")
    assert (client.name, client.plan) == ("acme", "retainer")
    assert (entry.host, entry.root, entry.url) == ("maint-sandbox", str(sandbox.store("one").root), sandbox.store("one").url)
    assert entry.mirror == str(sandbox.base / "mirror")
    state_text = (sandbox.base / "state.json").read_text()
    assert sandbox.store("one").db_password not in yaml.safe_dump(sandbox.inventory())
    assert (sandbox.base / "state.json").stat().st_mode & 0o077 == 0, state_text[:0]  # holds DB passwords
    assert sandbox.store("one").db_password not in repr(sandbox.store("one"))


def test_stopped_sandbox_restarts_in_place_with_the_same_ports(
    tmp_path: Path, stub_builder: Callable[..., None]
) -> None:
    specs = [StoreSpec("one", "3.0.3.8")]
    with Sandbox(tmp_path / "sb", specs, builder=stub_builder) as first:
        before = first.store("one")
        ports = (first.mariadb.port, first.sshd.port)
    with Sandbox(tmp_path / "sb", specs, builder=stub_builder) as again:
        assert again.store("one") == before
        assert (again.mariadb.port, again.sshd.port) == ports
        assert requests.get(before.url, timeout=10).text.endswith("products=5")


def test_unknown_store_is_named_in_the_error(make_sandbox: Callable[..., Sandbox]) -> None:
    with pytest.raises(SandboxError, match="no sandbox store 'nope'.*one"):
        make_sandbox().store("nope")


def test_cli_up_is_idempotent_and_down_stops_by_pid(
    tmp_path: Path, stub_builder: Callable[..., None], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(orchestrator, "default_builder", lambda: stub_builder)
    base = str(tmp_path / "cli")
    try:
        assert cli.main(["--base", base, "up", "--store", "x=3.0.3.8", "--store", "y=4.0.2.3:outside"]) == 0
        first = capsys.readouterr()
        assert f"export FABRIC_MAINT_INVENTORY={base}/inventory" in first.out
        assert cli.main(["--base", base, "up", "--store", "x=3.0.3.8"]) == 0
        assert "already running" in capsys.readouterr().err
        assert cli.main(["--base", base, "status"]) == 0
        assert "php:y" in capsys.readouterr().out
        assert cli.main(["--base", base, "env"]) == 0
        assert capsys.readouterr().out == first.out
        assert Sandbox.is_up(Path(base))
        attached = Sandbox.attach(Path(base))  # what the Docker testbed hands to tests
        assert attached.env() == orchestrator.read_state(Path(base))["env"]
        attached.php_stop("y")
        assert not Sandbox.is_up(Path(base))
        attached.php_start("y")
        assert Sandbox.is_up(Path(base))
        assert requests.get(attached.store("y").url, timeout=10).text.endswith("products=5")
        attached.stop()  # a handle stops nothing
        assert Sandbox.is_up(Path(base))
        refs = {name: ref for name, ref, _ in orchestrator.recorded_processes(orchestrator.read_state(Path(base)))}
    finally:
        assert cli.main(["--base", base, "down"]) == 0
    assert "stopped: mariadb, sshd, php:x, php:y" in capsys.readouterr().err
    assert_all_stopped(refs)
    assert cli.main(["--base", base, "status"]) == 1
    assert cli.main(["--base", base, "down"]) == 0
    assert "nothing was running" in capsys.readouterr().err


def test_cli_rejects_a_malformed_store_argument(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["--base", str(tmp_path), "up", "--store", "x"]) == 2
    assert "NAME=VERSION" in capsys.readouterr().err


def test_starting_over_a_running_sandbox_says_how_to_stop_it(
    make_sandbox: Callable[..., Sandbox], stub_builder: Callable[..., None]
) -> None:
    running = make_sandbox()
    with pytest.raises(SandboxError, match="already runs.*maint.sandbox --base .* down"):
        Sandbox(running.base, [StoreSpec("one", "3.0.3.8")], builder=stub_builder).start()
    assert requests.get(running.store("one").url, timeout=10).status_code == 200
