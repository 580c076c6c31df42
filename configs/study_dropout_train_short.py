# The positive control's annealed reference (`make study STUDY_ARM=dropout`): the plain recipe with its whole
# schedule (warm-up, cosine to the end) in 1,000 steps. A shorter run is worse intact and, in the pilot of issue 37,
# loses less under damage: if the dropout model still loses less than it, lower quality does not explain the effect.
#   python train_bilingual_gpt2.py configs/study_dropout_train_short.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_dropout_train_plain.py')).read())
max_steps = 1000
eval_interval = 250
out_dir = 'results/study_dropout/train_short'
visuals_dir = 'visuals/study_dropout/train_short'
