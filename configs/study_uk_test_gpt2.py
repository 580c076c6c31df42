# The sweep of the map's Ukrainian-only reference (`make study STUDY_ARM=uk`, docs/study.md "The map"): the bilingual
# model against the model trained on Ukrainian alone, on the held-out Ukrainian books (the primary text), five
# training seeds, at final and (against the Ukrainian model's checkpoints) at matched quality; per byte and, one
# tokenizer serving both, per token. Exploratory (docs/statistics.md): no confirmatory row.
#   python test_gpt2.py configs/study_uk_test_gpt2.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_test_gpt2.py')).read())
models = ('bilingual=results/study_uk/train_bilingual_gpt2/bilingual,'
          'lang2_only=results/study_uk/train_bilingual_gpt2/lang2_only')
eval_files = 'uk=results/study_uk/train_bilingual_gpt2/eval_lang2.txt'
calibration_file = 'results/study_uk/train_bilingual_gpt2/train_lang2.txt'
compare = ['bilingual:lang2_only']
out_dir = 'results/study_uk/test_gpt2'
visuals_dir = 'visuals/study_uk'
