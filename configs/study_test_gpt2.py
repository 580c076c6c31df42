# The study's sweep (`make study`, docs/study.md): the five training seeds of each model of configs/study_train.py,
# with the default's kinds, scopes and grids, on 32,000 characters of each held-out text (English, and Ukrainian on
# the final bilingual models). The MLPs' floor is measured too (floor_scopes), for the report's scope cost; every
# training checkpoint gets its intact score and floors (the attention cost against training tokens), and the two
# checkpoints of each reference model that bracket the bilingual model's intact quality get every kind (matched
# quality).
#   python test_gpt2.py configs/study_test_gpt2.py
models = ('monolingual=results/study/train_bilingual_gpt2/monolingual,'
          'bilingual=results/study/train_bilingual_gpt2/bilingual,'
          'control=results/study/train_bilingual_gpt2/control')
eval_files = 'en=results/study/train_bilingual_gpt2/eval_en.txt,uk=results/study/train_bilingual_gpt2/eval_lang2.txt'
eval_chars = 32000
calibration_file = 'results/study/train_bilingual_gpt2/train_en.txt'
floor_scopes = ['mlp']
checkpoint_kinds = []      # every checkpoint's floors and intact score; the bracketing ones get every kind
out_dir = 'results/study/test_gpt2'
visuals_dir = 'visuals/study'
lm_eval_tasks = []         # the field's tasks run in the quick default (make reproduce); the study's budget is the sweep's
