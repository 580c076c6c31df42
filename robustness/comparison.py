"""One comparison of a verdict table, as every script's analysis builds it, robustness.stats.decide decides it and
every report renders it: an immutable record. Deciding a table returns new records (dataclasses.replace); nothing
changes one in place, and what it compares lives in its fields, never in a name to split.

    row = Comparison(a='bilingual', b='monolingual', kind='random_deletion', scope='attn', design='final',
                     measures=compare(curves_a, curves_b, LM_MEASURES, margin, relative_margin),
                     decisive=LM_DECISIVE, described=describe(curves_a, curves_b, 0.5, 1000, rng))
    rows = decide([row, ...])           # robustness.stats: Holm levels, every measure's interval, the outcome
    rows, answer = decide_table(rows, wording)  # robustness.analysis: the verdict in words, the table's answer

summary.json holds a table as a list of these records (`record`), read back by `from_record`.
"""

from dataclasses import dataclass, field, fields

IDENTITY = ('model', 'a', 'b', 'kind', 'scope', 'layers')  # what a comparison compares, under which damage


@dataclass(frozen=True)
class Comparison:
    # what is compared: a - b (positive: a more robust; a and b are texts where `model` is set, the second-language
    # table; neither for a trend over the number of tasks), under one damage
    a: str | None = None
    b: str | None = None
    kind: str | None = None
    scope: str | None = None
    model: str | None = None
    layers: str | None = None  # the layers damaged (run_glue_test.py)
    design: str = 'final'      # 'final', 'matched quality', 'second language', 'trend over T', ...
    # the tests: every measure's entry (robustness.stats.compare), the declared ones decisive, the first the headline
    measures: dict = field(default_factory=dict)
    decisive: tuple = ()
    reason: str | None = None  # why the row has no verdict
    other_unit: dict | None = None  # {'unit', 'measures', 'comparable'}: the same measures in the other unit
    described: dict = field(default_factory=dict)  # description, never decided: half-failure, crossover, brackets...
    # the decision (robustness.stats.decide)
    decided_by: tuple = ()
    unavailable: tuple = ()
    statistic: str | None = None
    p: float | None = None
    holm_level: float | None = None
    confidence: float | None = None
    estimate: float | None = None
    ci: list | None = None
    tested_over: str | None = None
    outcome: str | None = None
    unit_dependent: tuple = ()  # decisive measures whose sign changes with the unit
    # in words (robustness.analysis.decide_table)
    verdict: str | None = None
    detectable: float | None = None
    rule_power: dict | None = None

    @property
    def identity(self):
        """(model, a, b, kind, scope, layers): the same comparison in another table, design or arm."""
        return tuple(getattr(self, name) for name in IDENTITY)

    @property
    def label(self):
        """The comparison as the reports name it: 'a - b | kind | scope' (a display label, never parsed)."""
        return display_name(**{name: getattr(self, name) for name in IDENTITY})


TUPLES = {'decisive', 'decided_by', 'unavailable', 'unit_dependent'}


def display_name(model=None, a=None, b=None, kind=None, scope=None, layers=None):
    """How the reports name a comparison or a model under one damage: the pair (or the model's two texts, or the
    model alone), the kind, the scope and the layers, as far as each is given."""
    pair = f'{a} - {b}' if a is not None else model
    if model is not None and a is not None:
        pair = f'{model}: {pair}'
    return ' | '.join(str(part) for part in (pair, kind, scope, layers) if part is not None)


def record(comparison):
    """A comparison as summary.json holds it: its fields."""
    return {item.name: getattr(comparison, item.name) for item in fields(comparison)}


def from_record(values):
    """The comparison of a summary.json record."""
    return Comparison(**{name: tuple(value) if name in TUPLES else value for name, value in values.items()})


def find(rows, **identity):
    """The comparison of `rows` with these identity fields (e.g. a=, b=, kind=, scope=), or None."""
    return next((row for row in rows if all(getattr(row, name) == value for name, value in identity.items())), None)



def label_of(entry):
    """The display name of a record that carries some of IDENTITY's fields (a per-model half-failure level, a row of
    the matched-quality agreement)."""
    return display_name(**{name: entry.get(name) for name in IDENTITY})
