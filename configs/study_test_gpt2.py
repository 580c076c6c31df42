# The study's sweep (`make study`, docs/study.md): the five training seeds of each model of configs/study_train.py,
# with the default's kinds, scopes and grids. The MLPs' floor is measured too (floor_scopes), for the report's
# scope cost, and every training checkpoint gets its floors: the attention cost against training tokens.
#   python test_gpt2.py configs/study_test_gpt2.py
models = ('monolingual=results/study/train_bilingual_gpt2/monolingual,'
          'bilingual=results/study/train_bilingual_gpt2/bilingual,'
          'control=results/study/train_bilingual_gpt2/control')
eval_file = 'results/study/train_bilingual_gpt2/eval_en.txt'
calibration_file = 'results/study/train_bilingual_gpt2/train_en.txt'
floor_scopes = ['mlp']
out_dir = 'results/study/test_gpt2'
visuals_dir = 'visuals/study'
