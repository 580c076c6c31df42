# The study's models (`make study`, docs/study.md): the offline default's three models and recipe, with five training
# seeds and trained long enough to use their context (zeroing all attention costs at least 1.2x the intact held-out
# bits per byte). The control model trains on the bilingual model's English bytes, so the bilingual batches hold a
# quarter of second-language rows (the default: half): at half, the control would stop short of 1.2x (docs/study.md).
# One tokenizer for all three models (tokenization=shared, the default); configs/study_own_train.py is the paper's arm.
# A checkpoint every 200 steps: the bilingual model's intact quality lies between two close checkpoints of the others.
#   python train_bilingual_gpt2.py configs/study_train.py
train_seeds = [1337, 1338, 1339, 1340, 1341]
max_steps = 2600           # monolingual and bilingual; the control: its English bytes' worth (1,950 steps with one tokenizer)
lang2_fraction = 0.25      # 4 of each 16 sequences of a bilingual batch in Ukrainian
eval_interval = 650        # held-out evaluations in train_log.csv
checkpoint_interval = 200  # checkpoints: matched quality and the attention cost against training tokens
out_dir = 'results/study/train_bilingual_gpt2'
visuals_dir = 'visuals/study'
