"""EleutherAI's lm-evaluation-harness on damaged models, in memory: the field's zero-shot tasks beside the project's
own bits per byte.

    tasks = load_tasks(['bible_last_word_en', 'bible_bpb_en'], include='tasks')   # once per run, before any trial
    lm = in_memory(model, tokenizer, window=128, batch_size=32, device=device)  # once per loaded model
    with perturbed(model, ...):
        results = evaluate_tasks(lm, tasks, limit=0)                             # every trial: the weights as they are
    rows = metric_rows(results)                                                  # [(task, metric, value, stderr)]

The task objects (their documents and prompts) are built once per run (`load_tasks`); every trial evaluates the same
model object, whose weights `perturbed` changes in place, through lm-eval's HFLM with the tokenizer passed (without
one, HFLM asks the hub). Everything a task needs is checked before any trial, each a one-line error naming
`lm_eval_tasks`: a name lm-eval does not know, a metric it has not registered (it would download one from the hub), a
local data file that does not exist (the project's offline tasks build theirs on first use, with the build_tasks.py
beside their YAMLs), a dataset on the hub when the hub cannot be reached and no copy is cached.
"""

import contextlib
import io
import logging
import os
import subprocess
import sys

from robustness.config import check, fail

LOCAL_FORMATS = ('json', 'csv', 'parquet', 'text', 'arrow')  # datasets' builders that read local data_files
LOGGERS = ('lm_eval', 'lm-eval')  # lm-eval logs every task it loads and every request type it runs: only warnings here


def quiet():
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def task_manager(tasks, include):
    """lm-eval's TaskManager with the task YAMLs of `include` (a folder, or ''); with lm-eval's own tasks too only
    where some task is not among them (indexing its thousands of YAMLs takes seconds)."""
    from lm_eval.tasks import TaskManager
    check(not include or os.path.isdir(include), f"lm_eval_include: {include} is not a folder of task YAMLs")
    if include:
        local = TaskManager(include_path=include, include_defaults=False)
        if all(task in local.all_tasks for task in tasks):
            return local
    return TaskManager(include_path=include or None)


def leaf_configs(manager, name):
    """[(task name, its YAML config, includes resolved)] of a task, or of every task of a group or tag (lm-eval's
    index); [] for a name it does not know."""
    from lm_eval.tasks._index import Kind
    from lm_eval.tasks._yaml_loader import load_yaml
    entry = manager._index.get(name)
    if entry is None:
        return []
    config = load_yaml(entry.yaml_path, resolve_func=False) if entry.yaml_path else (entry.cfg or {})
    if entry.kind == Kind.TAG:
        children = sorted(entry.tags)
    elif entry.kind == Kind.GROUP:
        children = [task if isinstance(task, str) else task.get('task') for task in config.get('task', [])]
    else:
        return [(name, config)]
    return [found for child in children for found in leaf_configs(manager, child)]


def build_data(include, missing):
    """Build the data of the offline tasks of `include` on first use: the folder's build_tasks.py, run with its
    defaults into the folder its YAMLs read (`missing`'s), where `missing` lies there. Returns whether it ran."""
    builder = os.path.join(include, 'build_tasks.py') if include else ''
    folder = os.path.dirname(missing)
    if not os.path.isfile(builder) or os.path.normpath(folder) != os.path.normpath(os.path.join(include, 'data')):
        return False
    print(f"lm_eval_tasks: {missing} does not exist yet; building the offline tasks' data "
          f"(python {builder} --out_dir={folder})")
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # a copied builder imports robustness
    path = os.pathsep.join([project, os.environ.get('PYTHONPATH', '')])
    built = subprocess.run([sys.executable, builder, f'--out_dir={folder}'], capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=path))
    check(built.returncode == 0, f"lm_eval_tasks: {builder} failed: {built.stderr.strip().splitlines()[-1:]}")
    return True


def check_task(name, config, include=''):
    """One-line errors for what a task needs and cannot have here: an unregistered metric, a missing data file (the
    offline tasks of `include` build theirs first: `build_data`), the hub while it cannot be reached."""
    from lm_eval.api.registry import get_metric_aggregation, metric_registry
    import lm_eval.api.metrics  # noqa: F401 (fills the registry)
    for metric in config.get('metric_list', []):
        metric_name = metric.get('metric')
        check(not isinstance(metric_name, str) or metric_name in metric_registry or metric.get('aggregation') or
              get_metric_aggregation(metric_name) is not None,
              f"lm_eval_tasks: {name} asks for the metric {metric_name!r}, which lm-eval has not registered (it would "
              f"download it from the hub); use a registered one ({', '.join(sorted(metric_registry)[:8])}, ...)")
    path = config.get('dataset_path')
    if path in LOCAL_FORMATS:
        files = (config.get('dataset_kwargs') or {}).get('data_files') or {}
        for file in files.values() if isinstance(files, dict) else [files]:
            for one in file if isinstance(file, list) else [file]:
                if not os.path.exists(one):
                    build_data(include, one)
                check(os.path.exists(one),
                      f"lm_eval_tasks: {name} reads {one}, which does not exist (from {os.getcwd()})")
    elif path and not os.path.exists(path):
        from robustness.hub import hub_reachable
        if not hub_reachable():
            from huggingface_hub import snapshot_download
            try:
                snapshot_download(path, repo_type='dataset', local_files_only=True)
            except Exception:
                fail(f"lm_eval_tasks: {name} needs the Hugging Face hub (dataset {path}), which cannot be reached, "
                     f"and has no local copy; run it where there is a network, or cache the dataset first")


def load_tasks(tasks, include):
    """lm-eval's task objects of `tasks` (names of tasks, groups or tags), with the YAMLs of `include`: built once, with
    their documents; a one-line error for anything that cannot run here."""
    quiet()
    manager = task_manager(tasks, include)
    for task in tasks:
        found = leaf_configs(manager, task)
        check(found, f"lm_eval_tasks: unknown task {task!r}" + (f" (not in {include} nor lm-eval's registry)"
                                                                if include else " (not in lm-eval's registry)"))
        for name, config in found:
            check_task(name, config, include)
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # datasets' progress bars
            return manager.load(list(tasks))
    except Exception as error:
        fail(f"lm_eval_tasks: {', '.join(tasks)} could not be loaded ({type(error).__name__}: "
             f"{str(error).splitlines()[0] if str(error) else ''})")


def chance_levels(tasks, limit=0):
    """{task: its chance level} of the loaded tasks: for a multiple-choice task, one over the number of choices,
    averaged over the documents evaluated (the first `limit`; 0: all); None for the others (their floor is the score
    with the scope zeroed)."""
    found = {}
    for name, task in tasks['tasks'].items():
        if task.OUTPUT_TYPE != 'multiple_choice':
            found[name] = None
            continue
        docs = list(task.eval_docs)[:limit or None]
        found[name] = sum(1 / len(task.doc_to_choice(doc)) for doc in docs) / len(docs)
    return found


def in_memory(model, tokenizer, window, batch_size, device):
    """lm-eval's HFLM around a model in memory and its tokenizer (never the hub), windows of `window` tokens. The
    token before a text's first (what lm-eval conditions it on) is the tokenizer's beginning or end of text, or else
    the model config's."""
    from lm_eval.models.huggingface import HFLM
    config = model.config
    prefix = next((token for token in (tokenizer.bos_token_id, tokenizer.eos_token_id, config.bos_token_id,
                                       config.eos_token_id) if token is not None), None)
    return HFLM(pretrained=model, tokenizer=tokenizer, max_length=window, batch_size=batch_size, device=str(device),
                prefix_token_id=prefix)


def evaluate_tasks(lm, tasks, limit=0, samples=False):
    """lm-eval's results of the model's current weights on the loaded `tasks` (the first `limit` documents of each;
    0: all); with `samples`, every document's inputs and outputs too. Standard errors as lm-eval gives them (closed
    form for means; no bootstrap pool)."""
    from lm_eval.evaluator import evaluate
    with contextlib.redirect_stderr(io.StringIO()):
        return evaluate(lm=lm, task_dict=tasks, limit=limit or None, bootstrap_iters=1000, log_samples=samples)


def metric_rows(results):
    """[(task, metric, value, stderr, higher is better)] of lm-eval's results; a metric's filter is kept where it is
    not the default ('none'); a stderr lm-eval does not give is None."""
    rows = []
    for task, values in results['results'].items():
        better = results.get('higher_is_better', {}).get(task, {})
        for key, value in values.items():
            if ',' not in key or '_stderr' in key:
                continue
            metric, _, keep = key.partition(',')
            stderr = values.get(f'{metric}_stderr,{keep}')
            rows.append((task, metric if keep == 'none' else f'{metric},{keep}', float(value),
                         float(stderr) if isinstance(stderr, (int, float)) else None, better.get(metric)))
    return rows
