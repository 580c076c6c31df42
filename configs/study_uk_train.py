# The map's Ukrainian-only reference (`make study STUDY_ARM=uk`, docs/study.md "The map"): the shared arm's recipe
# (configs/study_train.py: one shared tokenizer, five training seeds, 2,600 steps) for the bilingual model and for a
# model trained on Ukrainian alone (lang2_only, 2,600 steps of 16 Ukrainian sequences), whose Ukrainian the
# bilingual model's is held against: the mirror of the English comparison, within one language. The bilingual
# models are the shared arm's again (same seeds, recipe and tokenizer), so the arm stands on its own.
#   python train_bilingual_gpt2.py configs/study_uk_train.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_train.py')).read())
train_models = ['bilingual', 'lang2_only']
out_dir = 'results/study_uk/train_bilingual_gpt2'
visuals_dir = 'visuals/study_uk'
