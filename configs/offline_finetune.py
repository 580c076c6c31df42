# The paper's own design, offline and replicated: an English base model per training seed, then the monolingual,
# bilingual and control models fine-tuned from the base of their own seed (the bilingual model gets a new English +
# second-language BPE and resized embeddings, as the paper did), evaluated with the same sweep. Fine-tuning draws
# its data order from streams of its own, so no fine-tuned model replays its base's order; the intervals over the
# training seeds then cover the base's training as well as the fine-tuning. `make finetune` runs the whole recipe:
#   python train_bilingual_gpt2.py --train_models=monolingual --tokenization=own --out_dir=results/offline_base \
#       --visuals_dir=visuals/offline_base                                    # the English bases, from scratch
#   python train_bilingual_gpt2.py configs/offline_finetune.py               # the three models from each base
#   python test_gpt2.py --models=monolingual=results/offline_finetune/monolingual,... --out_dir=results/test_gpt2_finetune
init_from = 'results/offline_base/monolingual/seed_{seed}'
tokenization = 'own'       # the paper's: monolingual and control keep the base's English BPE, bilingual gets a new one
max_steps = 300            # fine-tuning steps of monolingual and bilingual (the control: its English share of them)
warmup_steps = 30
learning_rate = 1e-3
eval_interval = 150
out_dir = 'results/offline_finetune'
visuals_dir = 'visuals/offline_finetune'
