# The article's question on encoder pairs that differ in how many languages they learned (model cards, as stored on
# 2026-12-01): BERT base cased (English) against multilingual BERT (104 languages), and against Geotrend's
# bert-base-en-cased, mBERT's own weights with the vocabulary cut to English (it removes the embedding-size
# difference); RoBERTa base against XLM-R base (100 languages); DeBERTa-v3 base against mDeBERTa-v3 base. Besides
# language each pair differs in vocabulary, data amount and, for XLM-R and mDeBERTa, data source: README.md.
# Needs the hub (or the models and GLUE in its local cache) and a GPU. One run per task:
#   for task in mrpc rte wnli; do
#     python run_glue_test.py configs/glue_encoder_pairs.py --task=$task --out_dir=results/glue_encoder_pairs/$task
#   done
models = ('bert=bert-base-cased,mbert=bert-base-multilingual-cased,mbert_en=Geotrend/bert-base-en-cased,'
          'roberta=roberta-base,xlmr=xlm-roberta-base,deberta=microsoft/deberta-v3-base,'
          'mdeberta=microsoft/mdeberta-v3-base')
compare = ['mbert:bert', 'mbert:mbert_en', 'xlmr:roberta', 'mdeberta:deberta']
task = 'mrpc'
epochs = 3
batch_size = 32
max_length = 128
lr = 2e-5
kinds = ['random_deletion', 'magnitude_pruning', 'gaussian_noise', 'neuron_deletion', 'head_deletion', 'distraction']
scope = ['attn', 'mlp', 'blocks']
layer_sets = ['all', 'first', 'middle', 'last']
levels = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
noise_levels = [0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1]
repeats = 5
out_dir = 'results/glue_encoder_pairs/mrpc'
visuals_dir = 'visuals/glue_encoder_pairs'
