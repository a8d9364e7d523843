"""The agency folder: where an installed maint keeps its settings, inventory and own playbooks.

Default ``~/.config/maint/`` (``$XDG_CONFIG_HOME/maint``), or ``$MAINT_HOME``. The `maint` command
loads its ``fabric.yaml`` as the project-level config, so it works from any folder; environment
variables (``FABRIC_MAINT_*``) and ``-f FILE`` still take precedence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from maint.errors import PreconditionError
from maint.playbook_files import BUILTIN_DIR

CONFIG_NAME = "fabric.yaml"
DEFAULT_STATE_DIR = Path("~/.local/state/maint")


def default_folder() -> Path:
    if os.environ.get("MAINT_HOME"):
        return Path(os.environ["MAINT_HOME"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "maint"


def config_problem(path: Path) -> str | None:
    """Why the agency's fabric.yaml cannot be loaded (invoke would stop with a traceback), or None."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return f"{path}: cannot read ({exc.strerror})"
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        return f"{path}: not valid YAML ({where}{getattr(exc, 'problem', None) or exc})"
    if data is not None and not isinstance(data, dict):
        return f"{path}: must be a mapping with a maint: section"
    return None


def config_template(folder: Path, state_dir: Path) -> str:
    return f"""\
# maint's settings for this agency. `maint doctor` shows what is found and what is missing.
# Lowest to highest: built-in defaults -> a store's inventory entry -> this file
# (and FABRIC_MAINT_<KEY> environment variables, and `maint -f FILE`) -> task flags.
maint:
  # Folder of client files, one YAML file per client; `maint add-store` writes them.
  inventory: {folder / "inventory"}

  # Time ledger, health history, undo files and locks: client data, kept 0700.
  state_dir: {state_dir}

  # The agency's own playbooks. A file here (matrix.yaml, advisories.yaml, health.yaml,
  # plans.yaml) replaces the built-in one of the same name; one starting with
  # `extends: builtin` is merged over it (e.g. add your own plans or advisories).
  # Built-in: {BUILTIN_DIR}
  playbooks: {folder / "playbooks"}

  # SSH details (user, port, key, ProxyJump) live in ~/.ssh/config under a host alias.
  # Host keys are checked strictly against known_hosts; `maint add-store` adds a new one after you agree.
  # ssh_config: ~/.ssh/config
  # known_hosts: ~/.ssh/known_hosts

  # Refuse work on a client whose plan is spent, unless --over-budget.
  block_over_budget: false

  # Stores worked on at once by --all.
  parallel: 8

  # Per-task defaults for every store (a client's `options:` in its inventory file, and a store's own,
  # win), e.g. where `maint mirror` keeps snapshots (MIRROR_ROOT/<client>/<store>/<time>/) and how
  # many, and how many messages a minute `maint mail` sends (else the plan's, else no limit):
  # options:
  #   mirror: {{root: /mnt/offsite/mirrors, keep: {{daily: 7, weekly: 4, monthly: 6}}}}
  #   mail: {{rate_per_minute: 120}}

  # Alerts (`maint health`) and statements go out by mail when this is set:
  # smtp: {{host: smtp.example.com, port: 587, from: maint@example.com, to: ops@example.com,
  #         user: maint, password: CHANGE-ME, starttls: true}}
  # and/or as a JSON POST to a chat or ticket system:
  # webhook: https://hooks.example.com/maint

  # `maint report`: the agency's branding, and the locale for clients without their own `locale:`:
  # report: {{agency: "Acme Web", colour: "#1f5f8b", logo: ~/acme-logo.png, footer: "Acme Web", locale: en_ZA}}
"""


EXAMPLE_CLIENT = """\
# An example client, all commented out: `maint add-store CLIENT STORE --host ALIAS` writes real ones.
# One file per client; inventory files hold no secrets (database credentials are read from the
# store's config.php over SSH).
#
# name: acme                      # used on the command line: lower-case, digits, - and _
# title: ACME Outfitters
# plan: starter                   # a plan name from plans.yaml (`maint doctor` shows which file)
# locale: en_ZA                   # optional: numbers and dates in `maint report` as the client writes them
# contacts:
#   - {name: Ann Smith, email: ann@acme.example, role: owner}
# stores:
#   - name: acme                  # `maint info acme`
#     host: acme-prod             # an SSH host alias from ~/.ssh/config
#     root: /home/acme/public_html
#     admin: admin                # the admin folder (4.x lets shops rename it)
#     url: https://acme.example/  # optional: read from config.php's HTTP_SERVER when absent
#     mirror: /mnt/offsite/mirrors
#     store_id: 0                 # which store of a multi-store install (oc_store.store_id)
#     options:                    # per-task overrides
#       mirror: {exclude: [image/cache/]}
#       health: {disable: [tls]}
# options:                        # the client's own, for all its stores (a store's own win)
#   mail: {rate_per_minute: 120}
"""

PLAYBOOKS_README = f"""\
The agency's own playbooks. A file here replaces the built-in one of the same name:
  matrix.yaml  advisories.yaml  health.yaml  plans.yaml
A file that starts with the line `extends: builtin` is merged over the built-in one instead:
mappings key by key, list entries by their id/version/name. For example plans.yaml:

  extends: builtin
  plans:
    gold: {{kind: retainer, fee_per_month: 6000, services: [everything]}}

The built-in files, to copy from: {BUILTIN_DIR}
"""


@dataclass
class InitResult:
    folder: Path
    created: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def init_folder(folder: Path, *, force: bool = False, state_dir: Path | None = None) -> InitResult:
    """Create the agency folder; refuse when it is already set up, unless ``force`` (then only what is missing)."""
    folder = folder.expanduser().absolute()
    config = folder / CONFIG_NAME
    if config.exists() and not force:
        raise PreconditionError(
            f"{config} exists: maint is already set up there. `maint init --force` creates only what is missing"
        )
    state = (state_dir or (DEFAULT_STATE_DIR if folder == default_folder() else folder / "state")).expanduser()
    result = InitResult(folder)
    for path, mode in ((folder, 0o700), (folder / "inventory", 0o700), (folder / "playbooks", 0o700), (state, 0o700)):
        if path.is_dir():
            result.kept.append(path)
        else:
            path.mkdir(mode=mode, parents=True)
            path.chmod(mode)  # mkdir's mode is masked by the umask
            result.created.append(path)
    files = (
        (config, config_template(folder, state)),
        (folder / "inventory" / "example.yaml", EXAMPLE_CLIENT),
        (folder / "playbooks" / "README.txt", PLAYBOOKS_README),
    )
    for path, text in files:
        if path.exists():
            result.kept.append(path)
            continue
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        result.created.append(path)
    return result


def next_steps(folder: Path) -> list[str]:
    """What to do after `maint init`, as commands."""
    steps = []
    if folder.expanduser().absolute() != default_folder().absolute():
        steps.append(f"export MAINT_HOME={folder}      # so maint finds this folder (or maint -f {folder / CONFIG_NAME})")
    steps += [
        "add each shop's SSH host alias to ~/.ssh/config (HostName, User, Port, IdentityFile)",
        "maint add-store CLIENT STORE --host ALIAS      # checks the host key, finds the OpenCart root",
        "maint doctor                                    # local tools, config, inventory, known_hosts",
    ]
    return steps
