# The sweep of the map's arm `make study STUDY_ARM=width64` (docs/study.md "The map"): the study's sweep of its three
# models at width 64, five training seeds, at final and (against the references' checkpoints) at matched quality.
#   python test_gpt2.py configs/study_width64_test_gpt2.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_test_gpt2.py')).read())
models = ('monolingual=results/study_width64/train_bilingual_gpt2/monolingual,'
          'bilingual=results/study_width64/train_bilingual_gpt2/bilingual,'
          'control=results/study_width64/train_bilingual_gpt2/control')
eval_files = ('en=results/study_width64/train_bilingual_gpt2/eval_en.txt,'
              'uk=results/study_width64/train_bilingual_gpt2/eval_lang2.txt')
calibration_file = 'results/study_width64/train_bilingual_gpt2/train_en.txt'
compare = ['bilingual:monolingual', 'bilingual:control']
# declared on 2026-12-07 before this arm ran (docs/statistics.md): the paper's Figure 1 damage against each reference
confirmatory = ['bilingual:monolingual:random_deletion:attn', 'bilingual:control:random_deletion:attn']
out_dir = 'results/study_width64/test_gpt2'
visuals_dir = 'visuals/study_width64'
