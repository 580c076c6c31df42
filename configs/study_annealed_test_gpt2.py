# The sweep of `make study STUDY_ARM=annealed` (docs/study.md "The map"; run after `make study`, whose models it
# reads): the shared arm's sweep of its three models again, with the monolingual and control recipes annealed at
# shorter budgets (configs/study_annealed_train_*.py) as their references' `annealed` models: matched quality against
# mid-schedule checkpoints and against annealed models side by side, and where the two agree. Exploratory.
#   python test_gpt2.py configs/study_annealed_test_gpt2.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_test_gpt2.py')).read())
_short = 'results/study_annealed/train_{}/{}'
models += (f",monolingual_1000={_short.format(1000, 'monolingual')}"
           f",monolingual_1500={_short.format(1500, 'monolingual')}"
           f",control_750={_short.format(1000, 'control')},control_1125={_short.format(1500, 'control')}")
compare = ['bilingual:monolingual', 'bilingual:control']
annealed = ['monolingual:monolingual_1000:monolingual_1500', 'control:control_750:control_1125']
out_dir = 'results/study_annealed/test_gpt2'
visuals_dir = 'visuals/study_annealed'
