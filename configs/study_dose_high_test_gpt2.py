# The sweep of the map's arm `make study STUDY_ARM=dose_high` (docs/study.md "The map"): the bilingual model against
# its control matched on English bytes, five training seeds, at final and (against the control's checkpoints) at
# matched quality, with the study's kinds, scopes, grids and held-out texts.
#   python test_gpt2.py configs/study_dose_high_test_gpt2.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_test_gpt2.py')).read())
models = ('bilingual=results/study_dose_high/train_bilingual_gpt2/bilingual,'
          'control=results/study_dose_high/train_bilingual_gpt2/control')
eval_files = ('en=results/study_dose_high/train_bilingual_gpt2/eval_en.txt,'
              'uk=results/study_dose_high/train_bilingual_gpt2/eval_lang2.txt')
calibration_file = 'results/study_dose_high/train_bilingual_gpt2/train_en.txt'
compare = ['bilingual:control']
# declared on 2026-12-07 before this arm ran (docs/statistics.md): the paper's Figure 1 damage against the control
confirmatory = ['bilingual:control:random_deletion:attn']
out_dir = 'results/study_dose_high/test_gpt2'
visuals_dir = 'visuals/study_dose_high'
