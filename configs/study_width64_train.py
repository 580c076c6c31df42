# The map of the effect (`make study STUDY_ARM=width64`, docs/study.md "The map"): the shared arm's three models and
# recipe (configs/study_train.py: one shared tokenizer, five training seeds, 2,600 steps, a quarter of Ukrainian)
# at half its width, 64: capacity pressure. The arm's confirmatory rows and the map's tests were declared before it
# ran (docs/statistics.md).
#   python train_bilingual_gpt2.py configs/study_width64_train.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_train.py')).read())
n_embd = 64                # half the study's width; depth, heads (4 of 16 dimensions) and steps the same
out_dir = 'results/study_width64/train_bilingual_gpt2'
visuals_dir = 'visuals/study_width64'
