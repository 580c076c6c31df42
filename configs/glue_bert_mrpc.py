# run_glue_test.py at the scale of the encoder article ("Robustness of Masked Language Models to Damage", a Medium article): BERT,
# mBERT and bilingual XLM fine-tuned on MRPC, then per-layer (first / middle / last / all) and global
# magnitude pruning, random deletion and neuron deletion from 0 to 1 in steps of 0.01 with 15 draws,
# and 0-30% distracting words in steps of 2% with 25 draws. Needs the Hugging Face hub (or the models
# and GLUE in the local cache) and a GPU: about 70,000 evaluations of MRPC's 408 pairs.
#   python run_glue_test.py configs/glue_bert_mrpc.py
# Other article tasks: add --task=rte or --task=wnli.
models = ('bert=bert-base-uncased,mbert=bert-base-multilingual-cased,'
          'xlm_ende=FacebookAI/xlm-mlm-ende-1024,xlm_enfr=FacebookAI/xlm-mlm-enfr-1024')
task = 'mrpc'
epochs = 3
batch_size = 32
max_length = 128
lr = 2e-5
kinds = ['random_deletion', 'magnitude_pruning', 'global_magnitude_pruning', 'neuron_deletion', 'gaussian_noise',
         'distraction']
scope = ['attn']
layer_sets = ['all', 'first', 'middle', 'last']
levels = [round(0.01 * i, 2) for i in range(101)]
noise_levels = [round(0.01 * i, 2) for i in range(21)]  # BERT-base weights have std ~0.04
repeats = 15
distraction_levels = [round(0.02 * i, 2) for i in range(16)]
distraction_repeats = 25
out_dir = 'results/run_glue_test_bert_mrpc'
