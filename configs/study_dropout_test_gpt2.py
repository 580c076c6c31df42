# The positive control's sweep (`make study STUDY_ARM=dropout`, docs/statistics.md): the five training seeds of the
# dropout models against the plain ones (final, and at matched quality from the plain models' checkpoints) and
# against the annealed shorter plain ones, with the study's kinds, scopes, grids and held-out English.
#   python test_gpt2.py configs/study_dropout_test_gpt2.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_test_gpt2.py')).read())
models = ('dropout=results/study_dropout/train_dropout/monolingual,'
          'plain=results/study_dropout/train_plain/monolingual,'
          'plain_short=results/study_dropout/train_short/monolingual')
eval_files = 'en=results/study_dropout/train_plain/eval_en.txt'
calibration_file = 'results/study_dropout/train_plain/train_en.txt'
compare = ['dropout:plain', 'dropout:plain_short']
# declared on 2026-12-07 before this arm ran (docs/statistics.md): the paper's Figure 1 damage, against each reference
confirmatory = ['dropout:plain:random_deletion:attn', 'dropout:plain_short:random_deletion:attn']
out_dir = 'results/study_dropout/test_gpt2'
visuals_dir = 'visuals/study_dropout'
