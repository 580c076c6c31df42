"""Constants at the top of a script, overridable from the command line or a config file.

A script declares its settings as lowercase module-level constants, each with a comment, and then
calls `configure(globals())`:

    # -----------------------------------------------------------------------------
    dataset = 'digits'      # digits | mnist | cifar10
    repeats = 20            # independent draws per noise level
    # -----------------------------------------------------------------------------
    config = configure(globals())

Users then override any of them without editing the file:

    python binary_classification.py --repeats=5 --task_counts=4,6,8
    python non_linear.py configs/non_linear_cifar10.py --repeats=5

Values are parsed to the type of the default (lists from comma-separated values); an unknown name or
a value of the wrong type is a one-line error. `--help` lists every constant, its default and its
comment, read from the script's own source; the other arguments of a command line with --help are checked first,
so `python script.py ARGS --help` checks the names and types of ARGS (tests/test_docs.py runs every documented
command line so).
"""

import ast
import io
import json
import os
import sys
import tokenize


class ConfigError(SystemExit, ValueError):
    """A one-line user error, the one way the project's code reports bad input. Uncaught, Python prints
    `error: <message>` to stderr and exits with status 1, without a traceback (what SystemExit does with a string);
    code that can go on (a test, a script adding context) catches it as the ValueError it also is."""

    def __init__(self, message):
        super().__init__(f"error: {message}")
        self.message = message

    def __str__(self):
        return self.message


def fail(message):
    raise ConfigError(message)


def check(condition, message):
    if not condition:
        fail(message)


def names_local_path(value):
    """Whether a setting's value names a local path rather than a Hugging Face hub name: it exists, starts with '.',
    '/' or '~', or has more than one '/' (a hub name is 'name' or 'org/name')."""
    return os.path.exists(value) or value.startswith(('.', '/', '~')) or value.count('/') > 1


def check_choices(name, values, valid):
    """Every value (or the single value) of setting `name` must be one of `valid`."""
    values = values if isinstance(values, (list, tuple)) else [values]
    for value in values:
        check(value in valid, f"{name}: unknown value {value!r}; valid: {', '.join(map(str, valid))}")


def check_range(name, values, low=None, high=None):
    """Every number of setting `name` must lie in [low, high] (either bound may be None)."""
    values = values if isinstance(values, (list, tuple)) else [values]
    for value in values:
        inside = (low is None or value >= low) and (high is None or value <= high)
        bounds = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        check(inside, f"{name}: {value} is outside {bounds}")


def _constant_names(namespace):
    return [name for name, value in namespace.items()
            if not name.startswith('_') and name.islower()
            and isinstance(value, (bool, int, float, str, list, tuple, type(None)))]


def _comments(path):
    """{constant name: its trailing comment} for the module-level assignments in `path`; a comment continues on the
    indented comment-only lines right below it (a long one wraps there)."""
    source = open(path, encoding='utf-8').read()
    lines = source.splitlines()
    line_comments = {tok.start[0]: tok.string.lstrip('#').strip()
                     for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                     if tok.type == tokenize.COMMENT}
    comments = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            parts, line = [line_comments.get(node.end_lineno, '')], node.end_lineno + 1
            while line in line_comments and lines[line - 1].startswith(' ') and lines[line - 1].lstrip()[:1] == '#':
                parts.append(line_comments[line])
                line += 1
            comments[node.targets[0].id] = ' '.join(parts).strip()
    return comments


def _parse_scalar(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _parse(name, text, default):
    """Parse the command-line string `text` to the type of `default`."""
    kind = type(default)
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered not in ('true', 'false', '1', '0', 'yes', 'no'):
                raise ValueError
            return lowered in ('true', '1', 'yes')
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is str:
            return text
        if kind in (list, tuple):
            items = [item.strip() for item in text.split(',') if item.strip()]
            if default and all(isinstance(d, (int, float, str)) and not isinstance(d, bool) for d in default):
                item_kind = float if any(isinstance(d, float) for d in default) else type(default[0])
                return kind(item_kind(item) for item in items)
            return kind(_parse_scalar(item) for item in items)
        return _parse_scalar(text)  # a None default takes any literal
    except ValueError:
        expected = kind.__name__
        if kind in (list, tuple):
            expected = f"comma-separated {type(default[0]).__name__ if default else 'values'}"
        fail(f"--{name}={text}: expected {expected}")


def _check_type(name, value, default):
    """Values from a config file must have the default's type (ints are accepted for floats)."""
    a_bool_for_a_number = isinstance(value, bool) and not isinstance(default, bool)
    if default is None or isinstance(value, type(default)) and not a_bool_for_a_number:
        return value
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, (list, tuple)) and isinstance(value, (list, tuple)):
        return type(default)(value)
    fail(f"{name}: expected {type(default).__name__}, got {value!r}")


def _usage(script, names, namespace, comments):
    lines = [f"usage: python {os.path.basename(script)} [config_file.py] [--name=value ...]", "", "settings:"]
    width = max(len(name) for name in names)
    for name in names:
        value = namespace[name]
        shown = ','.join(map(str, value)) if isinstance(value, (list, tuple)) else value
        lines.append(f"  --{name:<{width}} = {shown!s:<20} {comments.get(name, '')}")
    return '\n'.join(lines)


def configure(namespace, argv=None, renamed=None):
    """Apply config files and --name=value overrides from argv to the constants in `namespace`.

    Updates `namespace` in place (the script's globals) and returns the final settings as a dict. `renamed` maps
    old setting names to new ones: an old name is a one-line error that names the new one. With --help, the usage is
    printed by `settings_checked`, which every script calls where its checks end.
    """
    renamed = renamed or {}
    argv = sys.argv[1:] if argv is None else argv
    script = namespace.get('__file__', sys.argv[0])
    names = _constant_names(namespace)
    defaults = {name: namespace[name] for name in names}
    asked_help = '-h' in argv or '--help' in argv
    overrides = {}
    for arg in (arg for arg in argv if arg not in ('-h', '--help')):
        if not arg.startswith('--'):
            check(os.path.isfile(arg), f"config file {arg} does not exist (settings are given as --name=value)")
            loaded = {'__file__': os.path.abspath(arg)}  # a config may build on another next to it
            exec(open(arg, encoding='utf-8').read(), loaded)
            for name, value in loaded.items():
                if name.startswith('_') or not name.islower() or callable(value) or type(value).__name__ == 'module':
                    continue
                check(name not in renamed, f"{arg}: setting {name!r} is now called {renamed.get(name)!r}")
                check(name in defaults, f"{arg}: unknown setting {name!r}; valid: {', '.join(names)}")
                overrides[name] = _check_type(name, value, defaults[name])
            continue
        name, equals, text = arg[2:].partition('=')
        check(name not in renamed, f"--{name} is now called --{renamed.get(name)}")
        check(name in defaults, f"unknown setting --{name}; valid: {', '.join(names)}")
        check(equals == '=', f"--{name}: give a value as --{name}=VALUE")
        overrides[name] = _parse(name, text, defaults[name])
    namespace.update(overrides)
    _HELP.clear()
    if asked_help:  # shown by settings_checked, once the script has checked the values too
        _HELP.append(_usage(script, names, namespace, _comments(script)))
    return {name: namespace[name] for name in names}


_HELP = []  # the usage text that configure owes a --help, until settings_checked prints it


def settings_checked():
    """Where a script's checks of its settings end and its work begins: with --help, print the usage and exit 0 here,
    so that a command line with --help has had its names, types and values checked like any other."""
    if _HELP:
        print(_HELP.pop())
        sys.exit(0)


def save_config(config, path):
    """Write the run's final settings as JSON next to its results."""
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    with open(path, 'w') as f:
        json.dump(config, f, indent=2, default=str)
