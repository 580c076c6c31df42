# The sweep of a map arm that trains a bilingual model and its control (`make study STUDY_ARM=dose_low`, `dose_high`;
# docs/study.md "The map"): the two, five training seeds, at final and (against the control's checkpoints) at matched
# quality, with the study's kinds, scopes, grids and held-out texts. The arm's config names it (`_arm`) and reads this.
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_test_gpt2.py')).read())
_folder = f'results/study_{_arm}/train_bilingual_gpt2'
models = f'bilingual={_folder}/bilingual,control={_folder}/control'
eval_files = f'en={_folder}/eval_en.txt,uk={_folder}/eval_lang2.txt'
calibration_file = f'{_folder}/train_en.txt'
compare = ['bilingual:control']
# declared on 2026-12-07 before the map's arms ran (docs/statistics.md): the paper's Figure 1 damage against the control
confirmatory = ['bilingual:control:random_deletion:attn']
out_dir = f'results/study_{_arm}/test_gpt2'
visuals_dir = f'visuals/study_{_arm}'
