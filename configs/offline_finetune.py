# The paper's own design, offline: one English base model, then the monolingual, bilingual and control models
# fine-tuned from it with the same training seeds (the bilingual model gets a new English + second-language BPE and
# resized embeddings, as the paper did), evaluated with the same sweep. `make finetune` runs the whole recipe:
#   python train_bilingual_gpt2.py --train_models=monolingual --train_seeds=1337 --out_dir=results/offline_base \
#       --visuals_dir=visuals/offline_base                                    # the English base, from scratch
#   python train_bilingual_gpt2.py configs/offline_finetune.py               # the three models from the base
#   python test_gpt2.py --models=monolingual=results/offline_finetune/monolingual,... --out_dir=results/test_gpt2_finetune
init_from = 'results/offline_base/monolingual/seed_1337'
max_steps = 300            # fine-tuning steps of monolingual and bilingual (the control: its English share of them)
warmup_steps = 30
learning_rate = 1e-3
eval_interval = 150
out_dir = 'results/offline_finetune'
visuals_dir = 'visuals/offline_finetune'
