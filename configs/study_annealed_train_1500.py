# Matched quality against annealed models (`make study STUDY_ARM=annealed`, after `make study`; docs/study.md "The
# map"): the shared arm's monolingual and control recipes (configs/study_train.py) run to a shorter budget, 1500 steps
# of the monolingual model and the control's English bytes' worth of them, each with its whole schedule: the
# bilingual model's quality then lies between annealed models, not mid-schedule checkpoints.
#   python train_bilingual_gpt2.py configs/study_annealed_train_1500.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_train.py')).read())
train_models = ['monolingual', 'control']
max_steps = 1500
out_dir = 'results/study_annealed/train_1500'
visuals_dir = 'visuals/study_annealed/train_1500'
