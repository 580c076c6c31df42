# The pruning literature's zero-shot evaluation (Wanda, SparseGPT: BoolQ, RTE, HellaSwag, WinoGrande, ARC-easy,
# ARC-challenge, OpenBookQA, through lm-evaluation-harness) on the public pairs of configs/bgpt_goldfish.py, damaged
# by magnitude and Wanda pruning of the blocks. Every task metric gets a verdict by the project's rule, with chance
# (one over the choices) as its floor (docs/statistics.md). Needs the hub (models and task datasets, or their cached
# copies) and a GPU; offline it stops in one line that names what to download.
#   python test_gpt2.py configs/lm_eval_zero_shot.py
# Cost, an **estimate** (not measured): about 66,000 loglikelihood requests per trial (HellaSwag's 10,042 x 4 most of
# them), a minute or two on one H100 for a 124M-parameter model; 3 models x (intact + 2 kinds x 6 damaged levels +
# the floor + the untrained model) = 45 trials, one to two hours.
import os

exec(open(os.path.join(os.path.dirname(__file__), 'bgpt_goldfish.py')).read())
lm_eval_tasks = ['boolq', 'rte', 'hellaswag', 'winogrande', 'arc_easy', 'arc_challenge', 'openbookqa']
lm_eval_include = ''       # lm-eval's own tasks only
lm_eval_kinds = []         # every swept kind runs the tasks
lm_eval_batch_size = 64
kinds = ['magnitude_pruning', 'wanda_pruning']
scope = ['blocks']
levels = [0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0]
eval_chars = 200000        # bits per byte beside the tasks, on less text than bgpt_goldfish.py's
out_dir = 'results/lm_eval_zero_shot'
visuals_dir = 'visuals/lm_eval_zero_shot'
