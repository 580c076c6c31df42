# The paper's question on public models matched at GPT-2-small scale: B-GPT, English + Greek, against Goldfish,
# English only. Each is a GPT-2 of 124.8M parameters with 512 positions and a 50,000-token vocabulary of its own,
# trained on web text (model cards, as stored on 2026-12-01: B-GPT on OSCAR 2021/09, 75% English and 25% Greek by the
# end of training, the simultaneous model mixing both from the start, the sequential one English first; Goldfish
# eng_latn_1000mb on 1,000 MB of English, mostly MADLAD-400). Besides language they differ in tokenizer, amount and
# source of data and recipe: README.md, "Public matched pairs". Bits per byte compares them across tokenizers.
# The cards ask for a [CLS] token before the text; the sliding windows here start inside the text, for every model.
#   python test_gpt2.py configs/bgpt_goldfish.py     # needs the hub (or the models in its local cache) and a GPU
models = ('simultaneous=catherinearnett/B-GPT_en_el_simultaneous,sequential=catherinearnett/B-GPT_en_el_sequential,'
          'goldfish=goldfish-models/eng_latn_1000mb')
eval_files = 'en=Salesforce/wikitext:wikitext-103-raw-v1:test'  # English held out of all three
eval_chars = 1000000
calibration_file = 'Salesforce/wikitext:wikitext-2-raw-v1:train'  # Wanda's activations: other English text
max_length = 512
stride = 256
batch_size = 16
kinds = ['random_deletion', 'magnitude_pruning', 'global_magnitude_pruning', 'gaussian_noise', 'neuron_deletion',
         'head_deletion', 'nm_pruning', 'wanda_pruning']
scope = ['attn', 'mlp', 'blocks']
levels = [0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0]
noise_levels = [0.0, 0.01, 0.02, 0.04, 0.06, 0.08, 0.12, 0.16]
repeats = 5
checkpoints = False
compare = ['simultaneous:goldfish', 'sequential:goldfish', 'simultaneous:sequential']
out_dir = 'results/bgpt_goldfish'
visuals_dir = 'visuals/bgpt_goldfish'
lm_eval_tasks = []         # the field's zero-shot tasks: configs/lm_eval_zero_shot.py
