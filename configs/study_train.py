# The study's models (`make study`, docs/study.md): the offline default's three models and recipe, with five training
# seeds and trained long enough to use their context (for every model and seed, zeroing all attention costs at least
# 1.2x the intact held-out bits per byte). The control model trains on the bilingual model's English share of the
# steps, so the bilingual batches hold a quarter of second-language rows (the default: half): at half, the control's
# 1,300 steps would stop short of 1.2x (docs/study.md). 15 models, about 65 min on 2 cores; on one GPU, see
# docs/study.md.
#   python train_bilingual_gpt2.py configs/study_train.py
train_seeds = [1337, 1338, 1339, 1340, 1341]
max_steps = 2600           # monolingual and bilingual; the control: 1,950 (three quarters)
lang2_fraction = 0.25      # 4 of each 16 sequences of a bilingual batch in Ukrainian
eval_interval = 650        # a checkpoint every 650 steps: the attention cost against training tokens
out_dir = 'results/study/train_bilingual_gpt2'
visuals_dir = 'visuals/study'
