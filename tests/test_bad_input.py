"""Bad input, one table for every script: each case is a one-line error (`error: <setting>: ...`, exit status 1)
that names the setting, before anything is written."""

import pytest

from conftest import one_line_error, run_in_process, run_script

MODEL = ['--models=m=MODEL', '--eval_files=en=TEXT', '--lm_eval_tasks=', '--max_length=32']  # test_gpt2.py's tiny run
GLUE = ['--models=m=MODEL', '--max_length=32']
TASK_YAML = '''task: {name}
dataset_path: {path}
dataset_kwargs:
  data_files:
    test: {data}
output_type: loglikelihood_rolling
test_split: test
doc_to_text: ""
doc_to_target: "{{{{text}}}}"
metric_list:
  - metric: {metric}
'''
CASES = [  # (script, arguments, what the error says)
    # an unknown value, a number out of range, a renamed or unknown setting, a bad type: the shared validator
    ('binary_classification.py', ['--dataset=imagenet'], "dataset: unknown value 'imagenet'"),
    ('binary_classification.py', ['--kinds=gaussian_noise,blur'], "kinds: unknown value 'blur'"),
    ('binary_classification.py', ['--levels=0,1.5'], 'levels: 1.5 is outside [0.0, 1.0]'),
    ('binary_classification.py', ['--corruptions=additive_noise'], '--corruptions is now called --kinds'),
    ('binary_classification.py', ['--task_counts=4,10'], 'task_counts: 10 is outside [1, 9]'),
    ('binary_classification.py', ['--max_samples=20000'], 'max_samples: 20000 // 4'),
    ('binary_classification.py', ['--dataset=mnist', '--data_root=NOTHING'], 'data_root: mnist is not in'),
    ('non_linear.py', ['--scope=attn'], "scope: unknown value 'attn'"),
    ('non_linear.py', ['--kinds=head_deletion'], "kinds: unknown value 'head_deletion'"),
    ('non_linear.py', ['--noise_levels=0.1,0.2'], 'noise_levels: include 0'),
    ('non_linear.py', ['--pretrained=True'], 'pretrained: only the resnet18 backbone'),
    ('non_linear.py', ['--seeds=2'], '--seeds is now called --repeats'),
    ('non_linear.py', ['--measures=retained_area_untrained'], "measures: unknown measure 'retained_area_untrained'"),
    ('non_linear.py', ['--repeats=two'], '--repeats=two: expected int'),
    ('train_bilingual_gpt2.py', ['--train_seeds=1,1'], 'train_seeds: [1, 1] must be distinct integers'),
    ('train_bilingual_gpt2.py', ['--lang2_fraction=1.5'], 'lang2_fraction: 1.5 is outside'),
    ('train_bilingual_gpt2.py', ['--lang2_fraction=0'], 'lang2_fraction: 0.0 leaves the bilingual model no second'),
    ('train_bilingual_gpt2.py', ['--lang2_fraction=1', '--train_models=bilingual'],
     'lang2_fraction: 1.0 leaves the bilingual model no English'),
    ('train_bilingual_gpt2.py', ['--tokenization=bpe'], "tokenization: unknown value 'bpe'"),
    ('train_bilingual_gpt2.py', ['--tokenizer=own'], '--tokenizer is now called --tokenization'),
    ('train_bilingual_gpt2.py', ['--n_head=0'], 'n_head: 0 is outside [1, inf]'),  # was a ZeroDivisionError
    ('train_bilingual_gpt2.py', ['--n_embd=66'], 'n_embd: 66 is not divisible by n_head 4'),  # a width of the map
    ('train_bilingual_gpt2.py', ['--train_models='], 'train_models: name at least one'),
    ('run_glue_test.py', [*GLUE, '--weight_decay=-1'], 'weight_decay: -1.0 is outside [0, inf]'),
    ('train_bilingual_gpt2.py', ['--vocab_size=300', '--max_docs=40'], 'vocab_size: a shared vocabulary of 300 cannot hold'),
    ('train_bilingual_gpt2.py', ['--max_steps=1'], 'max_steps: 1 steps with lang2_fraction 0.5 leave the control'),
    ('train_bilingual_gpt2.py', ['--train_file=NOTHING'], 'train_file: '),
    ('train_bilingual_gpt2.py', ['--init_from=no-such-org/no-such-model'], '--init_from=DIR'),
    ('train_bilingual_gpt2.py', ['--train_file=no-such-org/no-such-dataset'], 'train_file: '),
    ('train_bilingual_gpt2.py', ['--second_file=BLANK'], 'second_file: '),
    ('train_bilingual_gpt2.py', ['--init_from=MODEL', '--block_size=128'], 'block_size: 128 is longer than the 64 positions'),
    ('train_bilingual_gpt2.py', ['--init_from=MODEL', '--tokenization=own', '--lang2_fraction=0'], 'tokenization: own gives'),
    # a setting of the analysis: margins, the failure fraction, the measures and the unit
    ('test_gpt2.py', [*MODEL, '--failure_fraction=1.5'], 'failure_fraction: 1.5 must lie in (0, 1)'),
    ('test_gpt2.py', [*MODEL, '--equivalence_margin=-0.1'], 'equivalence_margin: -0.1 must lie in [0, 1)'),
    ('test_gpt2.py', [*MODEL, '--relative_margin=1'], 'relative_margin: 1.0 must lie in [0, 1)'),
    ('test_gpt2.py', [*MODEL, '--untrained=False'], 'measures: retained_area_untrained needs'),
    ('test_gpt2.py', [*MODEL, '--unit=char'], "unit: unknown value 'char'"),
    # files and models that are not there, or hold nothing
    ('test_gpt2.py', [*MODEL, '--models=m=NOTHING'], 'models: model directory'),
    ('test_gpt2.py', [*MODEL, '--eval_files=en=EMPTY'], 'is empty'),
    ('test_gpt2.py', [*MODEL, '--eval_files=en=NOTHING'], 'eval_files: en='),
    ('test_gpt2.py', [*MODEL, '--eval_files=en=TEXT,en=TEXT'], 'eval_files: labels must be unique'),
    ('test_gpt2.py', [*MODEL, '--eval_file=TEXT'], '--eval_file is now called --eval_files'),
    # a kind its scope or model cannot take
    ('test_gpt2.py', [*MODEL, '--kinds=head_deletion', '--scope=mlp'], 'head_deletion: no attention heads in scope mlp'),
    ('test_gpt2.py', [*MODEL, '--kinds=nm_pruning', '--nm_group=3'], 'inputs, not a multiple of the group 3'),
    ('test_gpt2.py', [*MODEL, '--kinds=wanda_pruning', '--calibration_file=NOTHING'], 'calibration_file: '),
    ('test_gpt2.py', [*MODEL, '--lm_eval_kinds=blur'], "lm_eval_kinds: unknown value 'blur'"),
    # the field's evaluation: a task lm-eval does not know, a data file, a metric, the hub
    ('test_gpt2.py', [*MODEL, '--lm_eval_tasks=no_such_task', '--lm_eval_include=TASKS'], "lm_eval_tasks: unknown task 'no_such_task'"),
    ('test_gpt2.py', [*MODEL, '--lm_eval_tasks=missing_data', '--lm_eval_include=TASKS'], 'which does not exist'),
    ('test_gpt2.py', [*MODEL, '--lm_eval_tasks=bad_metric', '--lm_eval_include=TASKS'], "metric 'no_such_metric', which lm-eval has not registered"),
    ('test_gpt2.py', [*MODEL, '--lm_eval_tasks=on_the_hub', '--lm_eval_include=TASKS'], 'needs the Hugging Face hub'),
    ('test_gpt2.py', [*MODEL, '--lm_eval_include=NOTHING', '--lm_eval_tasks=bible_bpb_en'], 'lm_eval_include: '),
    ('test_gpt2.py', [*MODEL, '--save_damaged=random_deletion:attn:0.5:7'], "save_damaged: 'random_deletion:attn:0.5:7' names no trial"),
    ('test_gpt2.py', [*MODEL, '--save_damaged=random_deletion'], 'save_damaged: '),
    ('run_glue_test.py', [*GLUE, '--task=mrcp'], "task: unknown value 'mrcp'"),
    ('run_glue_test.py', [*GLUE, '--task=csv'], 'task=csv needs --train_file and --validation_file'),
    ('run_glue_test.py', [*GLUE, '--kinds=dropout'], "kinds: unknown value 'dropout'"),
    ('run_glue_test.py', [*GLUE, '--train_pairs=100'], '--train_pairs is now called --train_size'),
    ('run_glue_test.py', [*GLUE, '--max_length=4096'], 'max_length: 4096 is more than model m takes'),
    ('run_glue_test.py', [*GLUE, '--train_size=1000000'], 'train_size: 1000000 asked for'),
]


@pytest.fixture
def placeholders(tiny_dir, tmp_path):
    """What the cases' MODEL, TEXT, EMPTY, BLANK, NOTHING and TASKS stand for: a tiny model, a held-out text, an empty
    file, a file of blank lines, a path that does not exist, a folder of task YAMLs (one reading a missing file, one asking for an unregistered
    metric, one on the hub)."""
    (tmp_path / 'empty.txt').write_text('')
    (tmp_path / 'blank.txt').write_bytes(b'  \n\n \r\n')
    tasks = tmp_path / 'tasks'
    tasks.mkdir()
    (tasks / 'data.jsonl').write_text('{"text": "In the beginning."}\n')
    for name, path, data, metric in (('missing_data', 'json', tmp_path / 'none.jsonl', 'bits_per_byte'),
                                     ('bad_metric', 'json', tasks / 'data.jsonl', 'no_such_metric'),
                                     ('on_the_hub', 'no-such-org/no-such-dataset', tasks / 'data.jsonl', 'bits_per_byte')):
        (tasks / f'{name}.yaml').write_text(TASK_YAML.format(name=name, path=path, data=data, metric=metric))
    return {'MODEL': tiny_dir / 'model', 'TEXT': tiny_dir / 'eval.txt', 'EMPTY': tmp_path / 'empty.txt',
            'BLANK': tmp_path / 'blank.txt',
            'NOTHING': tmp_path / 'nothing', 'TASKS': tasks}


@pytest.mark.parametrize('script,args,message', CASES, ids=[f'{script}:{" ".join(args)}'[:90] for script, args, _ in CASES])
def test_bad_input_is_a_one_line_error_and_writes_nothing(script, args, message, placeholders, tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))  # offline, with an empty torch hub cache
    for name, value in placeholders.items():
        args = [arg.replace(name, str(value)) for arg in args]
    out, visuals = tmp_path / 'out', tmp_path / 'visuals'
    error = one_line_error(run_in_process(monkeypatch, script, *args, f'--out_dir={out}', f'--visuals_dir={visuals}'))
    assert message in error, error
    assert not out.exists() and not visuals.exists() and not placeholders['NOTHING'].exists()


def test_bad_input_as_a_user_sees_it(tmp_path):
    """In a shell: exit status 1 and one line on stderr, no traceback."""
    result = run_script('binary_classification.py', '--dataset=imagenet', f'--out_dir={tmp_path / "out"}')
    assert result.returncode == 1 and result.stderr.strip().splitlines() == \
        ["error: dataset: unknown value 'imagenet'; valid: digits, mnist, cifar10"]
