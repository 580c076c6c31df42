"""What test_gpt2.py writes and how its rows are named: the columns and keys of perplexity.csv (bits per byte and
per token of every trial) and tasks.csv (lm-eval's metrics of every trial), the checkpoint names (step_<n>, final,
untrained) and their order in training, the layers column, and checkpoints.csv's columns. The script writes by
these; the analysis and the tests read by them.
"""

from robustness.results import Table

TABLE = Table('perplexity.csv', ('model', 'train_seed', 'checkpoint', 'text', 'kind', 'scope', 'layers', 'level',
                                 'repeat', 'nll', 'scored_tokens', 'bytes', 'ppl', 'bpb', 'sparsity', 'seconds'),
              key=('model', 'train_seed', 'checkpoint', 'text', 'kind', 'scope', 'layers', 'level', 'repeat'),
              added={'text': 'en'},  # runs before eval_files scored one text, English
              renamed={'tokens': 'scored_tokens'})  # 'tokens' are training tokens (checkpoints.csv, train_log.csv)
CSV = TABLE.filename
TASK_TABLE = Table('tasks.csv',
                   ('model', 'train_seed', 'checkpoint', 'kind', 'scope', 'layers', 'level', 'repeat', 'task',
                                 'metric', 'value', 'stderr', 'higher_is_better'),
                   key=('model', 'train_seed', 'checkpoint', 'kind', 'scope', 'layers', 'level', 'repeat', 'task',
                        'metric'))  # lm-eval's metrics of the damaged models (harness.metric_rows)
UNTRAINED = 'untrained'  # the checkpoint name of a model's untrained counterpart
CHANCE_FILE = 'chance.json'  # out_dir/lm_eval/chance.json: each task's chance level (harness.chance_levels)
CHECKPOINT_COLUMNS = ['model', 'train_seed', 'checkpoint', 'step', 'tokens', 'en_tokens']  # checkpoints.csv


def training_order(checkpoint):
    """Where a checkpoint comes in training: step_<n> at n, the final model last."""
    return int(checkpoint[len('step_'):]) if checkpoint.startswith('step_') else float('inf')


def layers_text(layers):
    """The layers column: the damaged blocks, comma-separated, or all."""
    return ','.join(map(str, sorted(layers))) if layers else 'all'
