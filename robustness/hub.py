"""Hugging Face hub names: a model given as 'org/name@revision', whether the hub answers, and loading with a one-line
error where it cannot."""

import functools
import os
import socket
import sys
import urllib.parse

from robustness.config import check, fail, names_local_path


def hub_revision(path):
    """(hub id, revision) of an entry 'org/name@revision' (a branch, tag or commit of the hub repository, such as
    B-GPT's training steps); (path, None) for anything else, a local path with an '@' in it included."""
    name, at, revision = path.rpartition('@')
    if at and name and revision and not os.path.exists(path):
        return name, revision
    return path, None


@functools.cache
def _hub_answers(host, port, timeout):
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def hub_reachable(timeout=3.0):
    """Whether the Hugging Face hub can be reached: a TCP connection to its endpoint within `timeout` seconds, tried
    once per process (behind a proxy, assumed yes). Where it cannot, the hub client and datasets go offline for this
    process: they then read their local caches at once instead of retrying for most of a minute, and a missing model
    or dataset is the caller's one-line error within seconds."""
    import huggingface_hub.constants
    reachable = not huggingface_hub.constants.HF_HUB_OFFLINE
    if reachable and not any(os.environ.get(name) for name in ('HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy')):
        endpoint = urllib.parse.urlparse(huggingface_hub.constants.ENDPOINT)
        reachable = _hub_answers(endpoint.hostname, endpoint.port or 443, timeout)
    if not reachable:
        huggingface_hub.constants.HF_HUB_OFFLINE = True
        if 'datasets' in sys.modules:
            sys.modules['datasets'].config.HF_HUB_OFFLINE = True
    return reachable


def from_pretrained(loader, path, setting, **kwargs):
    """`loader.from_pretrained(path)` with a one-line error for a missing dir or an unreachable hub.

    A local path (config.names_local_path) is a directory; anything else ('gpt2', 'org/name', 'org/name@revision')
    may also be a Hugging Face hub id.
    """
    path, revision = hub_revision(path)
    local = names_local_path(path)
    check(not local or os.path.isdir(path), f"{setting}: model directory {path} does not exist")
    check(not (local and revision), f"{setting}: {path}@{revision}: a revision names a hub model's, not a folder's")
    if not local and not hub_reachable():
        kwargs['local_files_only'] = True  # the cache only: no retries against a hub that cannot answer
    try:
        return loader.from_pretrained(path, **kwargs, **({'revision': revision} if revision else {}))
    except OSError as error:
        if local:
            fail(f"{setting}: cannot load {path}: {str(error).splitlines()[0]}")
        at = f" at revision {revision!r}" if revision else ''
        option = f" --revision {revision}" if revision else ''
        fail(f"{setting}: {path!r}{at} is not a local directory and could not be loaded from the Hugging Face hub "
             f"(no network, or no such model or revision); download it where there is a network "
             f"(hf download {path}{option} --local-dir DIR) and pass --{setting}={'LABEL=' * (setting == 'models')}DIR")
