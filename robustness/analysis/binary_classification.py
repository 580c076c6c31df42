"""binary_classification.py's report section, from its summary.json: per number of tasks T, the slope of the
spectrum, the intact error, and how closely the error under additive noise follows the theory.
"""

from robustness.analysis.markdown import table
from robustness.linear import THEORY_KIND


def render(summary):
    """The section's table: a row per number of tasks."""
    rows = []
    for T, entry in summary['num_tasks'].items():
        theory = entry['additive_noise_theory']
        rows.append([T, f"{entry['slope']:.3f}", f"{entry['intact_mse']:.4f}",
                     f"{100 * entry.get('max_relative_standard_error', {}).get(THEORY_KIND, float('nan')):.1f}%",
                     f"{100 * theory.get('max_relative_deviation', float('nan')):.1f}%",
                     f"{theory.get('max_deviation_in_standard_errors', float('nan')):.1f}"])
    return table(['T', 'slope ||S_k||²/T', 'intact mse', 'gaussian noise: largest SE / mean',
                  'largest deviation from the theory', 'in standard errors'], rows)
