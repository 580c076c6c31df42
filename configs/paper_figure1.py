# The paper's Figure 1 from the authors' own models: random deletion of GPT-2's attention weights, perplexity on
# IMDB training reviews, windows of 1,024 tokens at stride 512, 10 draws per level.
#   first, once, where there is a network: the download lines in README.md ("Redrawing Figure 1 ...")
#   python test_gpt2.py configs/paper_figure1.py                      # one GPU: see the README for the time
#   torchrun --standalone --nproc_per_node=8 test_gpt2.py configs/paper_figure1.py
models = ('monolingual=checkpoints/paper/monolingual_web_en_110.pth,'
          'bilingual=checkpoints/paper/bilingual_ccnews_en_el_110.pth')
tokenizers = 'monolingual=checkpoints/paper/tokenizer_monolingual,bilingual=checkpoints/paper/tokenizer_bilingual'
eval_files = 'en=stanfordnlp/imdb::train'  # the paper's evaluation text: IMDB training reviews, column `text`
eval_chars = 1000000                    # the first million characters (~250k GPT-2 tokens); 0 = all 33M
max_length = 1024
stride = 512
kinds = ['random_deletion']
scope = ['attn']                        # every parameter whose name contains "attn", as the paper's code
levels = [0.0, 0.1, 0.2, 0.3, 0.4]      # the levels of the paper's figure
repeats = 10
checkpoints = False                     # the released files have no training checkpoints
compare = ['bilingual:monolingual']
out_dir = 'results/paper_figure1'
visuals_dir = 'visuals/paper_figure1'       # keeps the offline default's figures in visuals/
lm_eval_tasks = []         # the field's zero-shot tasks: configs/lm_eval_zero_shot.py
