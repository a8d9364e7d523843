"""The OpenCart core upgrade: the release to install, the procedure on a target, traps, verification."""
