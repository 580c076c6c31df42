# One model before and after it learned Greek: B-GPT_en_el_sequential was trained on English first, then on English
# and Greek. Its hub revisions are named by training step: at 64000 it has seen English only, at 128000 both
# (list them with `huggingface_hub.list_repo_refs('catherinearnett/B-GPT_en_el_sequential')`). The same tokenizer,
# architecture and English data up to the switch: the closest match of the paper's pair, though the bilingual model
# has also trained for twice as many steps. Text, windows, kinds and grids: those of bgpt_goldfish.py.
#   python test_gpt2.py configs/bgpt_sequential_steps.py
import os

exec(open(os.path.join(os.path.dirname(__file__), 'bgpt_goldfish.py'), encoding='utf-8').read())
models = ('english_only=catherinearnett/B-GPT_en_el_sequential@64000,'
          'bilingual=catherinearnett/B-GPT_en_el_sequential@128000')
compare = ['bilingual:english_only']
out_dir = 'results/bgpt_sequential_steps'
visuals_dir = 'visuals/bgpt_sequential_steps'
