"""train_bilingual_gpt2.py's report section, from its summary.json: each model's held-out bits per byte and what it
saw.
"""

from robustness.analysis.markdown import table


def render(summary):
    """Each model's held-out bits per byte, then what it saw: steps, schedule, tokens and bytes per language, the
    bytes per token of its tokenizer."""
    rows = [[model, f"{entry['mean']:.4f}", f"{entry['std']:.4f}", ', '.join(f"{v:.4f}" for v in entry['per_seed'])]
            for model, entry in summary['final_eval_bpb'].items()]
    text = table(['model', 'held-out English bpb, mean', 'std over training seeds', 'per seed'], rows)
    if summary.get('models'):
        seen = [[model, entry['steps'], entry['schedule'], f"{entry['tokenization']} ({entry['vocabulary']:,})",
                 ', '.join(f"{language} {value:.2f}" for language, value in entry['bytes_per_token'].items()),
                 f"{entry['en_tokens']:,.0f}", f"{entry['en_bytes']:,.0f}", f"{entry['lang2_tokens']:,.0f}",
                 f"{entry['lang2_bytes']:,.0f}"] for model, entry in summary['models'].items()]
        text += ('\n\nWhat each model saw (mean over its training seeds; the control reads the bilingual model\'s '
                 'English bytes):\n\n' + table(['model', 'steps', 'schedule', 'tokenizer (vocabulary)',
                                               'bytes per token', 'English tokens', 'English bytes',
                                               'second-language tokens', 'second-language bytes'], seen))
    return text
