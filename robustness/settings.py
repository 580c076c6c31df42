"""The settings the scripts share, checked once: one rule per setting (RULES), one wording per error. A script calls

    validate(config, kinds=KIND_NAMES, scopes=SCOPES, measures=LM_MEASURES)

after robustness.config.configure, before any work; the valid kinds, scopes and measures are the script's. Only the
settings a script has are checked; its own (a corpus, a window) it checks itself. A broken rule is a one-line error
naming the setting (robustness.config.fail), and python -m robustness.analyze applies the same rules to the analysis
settings it overrides.
"""

from robustness.config import check, check_choices, check_range
from robustness.kinds import KINDS
from robustness.runtime import PRECISIONS
from robustness.stats import UNITS, check_margin, check_measures


def choices(valid_key, nonempty=False):
    """Every value of the setting is one of the script's `valid_key` (kinds, scopes); with `nonempty`, at least one."""
    def rule(name, value, valid):
        check(value or not nonempty, f"{name}: name at least one")
        check_choices(name, value, valid[valid_key])
    return rule


def one_of(values):
    def rule(name, value, valid):
        check_choices(name, value, values)
    return rule


def within(low, high=None):
    def rule(name, value, valid):
        check_range(name, value, low, high)
    return rule


def nonempty(name, value, valid):
    check(value, f"{name}: name at least one")


def positive(name, value, valid):
    check(value > 0, f"{name}: {value} must be positive")


def fraction(name, value, valid):
    check(0 < value < 1, f"{name}: {value} must lie in (0, 1)")


def margin(name, value, valid):
    check_margin(value, name)


def measures(name, value, valid):
    check_measures(value, valid['measures'], valid.get('untrained', True))


def seeds(name, value, valid):
    check(value and all(isinstance(s, int) and not isinstance(s,
                                                              bool) for s in value) and len(set(value)) == len(value),
          f"{name}: {value} must be distinct integers, at least one")


RULES = {
    'kinds': choices('kinds', nonempty=True), 'checkpoint_kinds': choices('kinds'),
         'scope': choices('scopes', nonempty=True),
    'floor_scopes': choices('scopes'), 'levels': within(0.0, 1.0), 'noise_levels': within(0.0),
    'distraction_levels': within(0.0), 'repeats': within(1), 'distraction_repeats': within(1), 'bootstrap': within(1),
    'nm_group': within(1), 'calibration_windows': within(1), 'batch_size': within(1), 'eval_batch_size': within(1),
    'epochs': within(1), 'jobs': within(0), 'lr': positive, 'learning_rate': positive, 'failure_fraction': fraction,
    'equivalence_margin': margin, 'relative_margin': margin, 'measures': measures, 'unit': one_of(UNITS),
    'precision': one_of(PRECISIONS), 'train_seeds': seeds, 'task_counts': nonempty, 'layer_sets': nonempty,
    'train_models': nonempty,
    # training
    'grad_accum': within(1), 'max_steps': within(1), 'steps': within(1), 'eval_interval': within(1),
    'checkpoint_interval': within(1), 'log_interval': within(1), 'block_size': within(1), 'warmup_steps': within(0),
    'warmup': within(0.0, 1.0), 'weight_decay': within(0), 'grad_clip': within(0), 'dropout': within(0.0, 1.0),
    'min_lr_ratio': within(0.0, 1.0), 'lang2_fraction': within(0.0, 1.0), 'stop_after': within(0),
    # data and models
    'max_docs': within(0), 'eval_fraction': fraction, 'eval_stride': within(0), 'eval_chars': within(0),
    'stride': within(0), 'layers': within(0), 'max_samples': within(1), 'train_size': within(2),
    'validation_size': within(2), 'max_train_examples': within(0), 'max_eval_examples': within(0), 'k': within(1),
    'gaussian_repeats': within(1), 'width': within(1), 'n_head': within(0), 'lm_eval_limit': within(0),
    'lm_eval_batch_size': within(1),
}


def validate(config, **valid):
    """Check every setting of `config` that RULES has (`valid`: the script's kinds, scopes and measures, and whether
    it scores untrained models), then that every grid a kind of `kinds` uses holds 0, the intact model that damage is
    measured from."""
    for name, rule in RULES.items():
        if name in config:
            rule(name, config[name], valid)
    for kind in dict.fromkeys([*config.get('kinds', []), *config.get('checkpoint_kinds', [])]):
        grid = KINDS[kind].grid if kind in KINDS else None
        check(grid not in config or 0 in config[grid],
              f"{grid}: include 0, the intact model that damage is measured from")


def annealed_budgets(entries, labels):
    """{reference: labels of its recipe annealed at shorter budgets, shortest first} from 'reference:label:label...'
    entries: a one-line error for a label the run does not score, or a reference named twice."""
    found = {}
    for entry in entries:
        parts = entry.split(':')
        check(len(parts) >= 2 and all(parts), f"annealed: {entry!r} is not reference:label[:label...]")
        unknown = [part for part in parts if part not in labels]
        check(not unknown, f"annealed: {entry!r} names {', '.join(unknown)}, not a label of models "
                           f"({', '.join(labels)})")
        check(parts[0] not in found and parts[0] not in parts[1:], f"annealed: {parts[0]} is named twice")
        found[parts[0]] = parts[1:]
    return found


def confirmatory_rows(entries, pairs, kinds, scopes):
    """The rows of a declared confirmatory family, each {'a', 'b', 'kind', 'scope'}, from 'a:b:kind:scope' entries: a
    one-line error for an entry whose pair is not compared, or whose kind or scope the run does not sweep."""
    rows = []
    for entry in entries:
        parts = entry.split(':')
        check(len(parts) == 4 and all(parts), f"confirmatory: {entry!r} is not a:b:kind:scope")
        a, b, kind, scope = parts
        check((a, b) in pairs, f"confirmatory: {entry!r} names the pair {a}:{b}, which the run does not compare "
                               f"({', '.join(f'{x}:{y}' for x, y in pairs) or 'no pair'})")
        check(kind in kinds, f"confirmatory: {entry!r} names the kind {kind}, which the run does not sweep "
                             f"({', '.join(kinds)})")
        check(scope in scopes, f"confirmatory: {entry!r} names the scope {scope}, which the run does not sweep "
                               f"({', '.join(scopes)})")
        rows.append({'a': a, 'b': b, 'kind': kind, 'scope': scope})
    check(len(set(entries)) == len(entries), f"confirmatory: a row is named twice ({', '.join(entries)})")
    return rows


def check_tolerance(tolerance, relative_margin):
    """matched_tolerance: above 0 (a pair matched exactly is rare) and at most the relative margin (a difference of
    quality the margin would call material is not a match)."""
    check(0 < tolerance <= relative_margin, f"matched_tolerance: {tolerance} must lie in (0, relative_margin = "
                                            f"{relative_margin}]")
