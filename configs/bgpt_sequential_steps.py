# One model before and after it learned Greek: B-GPT_en_el_sequential was trained on English first, then on English
# and Greek. Its hub revisions are named by training step: at 64000 it has seen English only, at 128000 both
# (list them with `huggingface_hub.list_repo_refs('catherinearnett/B-GPT_en_el_sequential')`). The same tokenizer,
# architecture and English data up to the switch: the closest match of the paper's pair, though the bilingual model
# has also trained for twice as many steps.
#   python test_gpt2.py configs/bgpt_sequential_steps.py
models = ('english_only=catherinearnett/B-GPT_en_el_sequential@64000,'
          'bilingual=catherinearnett/B-GPT_en_el_sequential@128000')
eval_file = 'Salesforce/wikitext:wikitext-103-raw-v1:test'
eval_chars = 1000000
calibration_file = 'Salesforce/wikitext:wikitext-2-raw-v1:train'
max_length = 512
stride = 256
batch_size = 16
kinds = ['random_deletion', 'magnitude_pruning', 'global_magnitude_pruning', 'gaussian_noise', 'neuron_deletion',
         'head_deletion', 'nm_pruning', 'wanda_pruning']
scope = ['attn', 'mlp', 'blocks']
levels = [0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0]
noise_levels = [0.0, 0.01, 0.02, 0.04, 0.06, 0.08, 0.12, 0.16]
repeats = 5
epochs = False
compare = ['bilingual:english_only']
out_dir = 'results/bgpt_sequential_steps'
visuals_dir = 'visuals/bgpt_sequential_steps'
