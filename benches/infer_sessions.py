"""Inter-batch vs intra-op parallelism in ONNX Runtime on product-ner (the measurement behind
Stocktake running one call's batches on several one-thread sessions, `infer::model`).

Same 6,000 demo titles, batches of 32 sorted by length, three ways: one session with 2 intra-op
threads, two one-thread sessions running alternate batches side by side, one one-thread session.

Run from the repository root: runtime/peers/venv/bin/python benches/infer_sessions.py
"""
import csv
import threading
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

tok=Tokenizer.from_file('models/product-ner/tokenizer.json')
titles=[r['title'] for r in csv.DictReader(open('demo/data/products.csv'))]
titles=(titles*10)[:6000]
encs=[tok.encode(t).ids for t in titles]
order=sorted(range(len(encs)),key=lambda i:len(encs[i]))
batches=[]
for k in range(0,len(order),32):
    part=order[k:k+32]; L=max(len(encs[i]) for i in part)
    ids=np.zeros((len(part),L),dtype=np.int64)
    for r,i in enumerate(part): ids[r,:len(encs[i])]=encs[i]
    batches.append(ids)
def sess(n):
    so=ort.SessionOptions(); so.intra_op_num_threads=n
    return ort.InferenceSession('models/product-ner/model.onnx',so,providers=['CPUExecutionProvider'])
s2=sess(2)
for b in batches[:5]: s2.run(None,{'input_ids':b})
t=time.time()
for b in batches: s2.run(None,{'input_ids':b})
print('1 session x 2 threads', round(time.time()-t,2))
sa,sb=sess(1),sess(1)
def work(s,bs):
    for b in bs: s.run(None,{'input_ids':b})
t=time.time()
th=[threading.Thread(target=work,args=(sa,batches[0::2])),threading.Thread(target=work,args=(sb,batches[1::2]))]
[x.start() for x in th]; [x.join() for x in th]
print('2 sessions x 1 thread', round(time.time()-t,2))
s1=sess(1)
t=time.time()
for b in batches: s1.run(None,{'input_ids':b})
print('1 session x 1 thread', round(time.time()-t,2))
