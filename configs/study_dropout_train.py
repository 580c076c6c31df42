# The positive control (`make study STUDY_ARM=dropout`, docs/statistics.md): the study's monolingual recipe
# (configs/study_train.py, one shared tokenizer, five training seeds, 2,600 steps) trained with dropout 0.2. A model
# that depends less on any one weight is known to lose less under random deletion; the rule must find it.
# configs/study_dropout_train_plain.py trains the same recipe without dropout, configs/study_dropout_train_short.py
# without dropout and annealed at 1,000 steps (worse intact quality than the dropout model: a confound that favours it).
#   python train_bilingual_gpt2.py configs/study_dropout_train.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'study_train.py')).read())
train_models = ['monolingual']
dropout = 0.2
out_dir = 'results/study_dropout/train_dropout'
visuals_dir = 'visuals/study_dropout/train_dropout'
