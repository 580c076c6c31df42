# The positive control's reference (`make study STUDY_ARM=dropout`): configs/study_dropout_train.py without dropout,
# the study's plain monolingual recipe. Same seeds, so the same initial weights and data order as the dropout models.
#   python train_bilingual_gpt2.py configs/study_dropout_train_plain.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_dropout_train.py')).read())
dropout = 0.0
out_dir = 'results/study_dropout/train_plain'
visuals_dir = 'visuals/study_dropout/train_plain'
