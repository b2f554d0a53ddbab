# Generates detector/testdata/default_unusual_and_county_trend (run once; the data is committed).
import json, sys
B='0123456789ABCDEFGHJKLMNPQRTUWXY'
W=[1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28]
def fid(body):
    s=sum(B.index(c)*w for c,w in zip(body,W)); return body+B[(31-s%31)%31]
out=sys.argv[1]
firms=[]; reps=[]
months=[(y,m) for y in range(2023,2027) for m in range(1,13)][:37]   # 2023-01 .. 2026-01
T=len(months)-1
def per(y,m): return '%04d-%02d'%(y,m)
def wiggle(i,k):  # deterministic ±0.5% pattern, phase by firm
    return 1.0+0.005*(1 if (i+k)%2 else -1)*(1 if (i+k)%3 else 0.5)
SWING=[1.05,0.96,1.0,0.95,1.04,0.97,1.03,0.99]  # a volatile firm: ±3–5% a month
n=[0]
def firm(name,county,base,level,flows):
    """level(k) is the headcount of month k; flows(k, prev, h) its hires and separations."""
    n[0]+=1; i=n[0]
    f=fid('91%s%09d'%(county,i)); firms.append((f,name,county,'C',base))
    prev=None
    for k,(y,m) in enumerate(months):
        h=level(i,k)
        hires,seps=flows(k,prev if prev is not None else h,h)
        reps.append({"schema_version":1,"firm_id":f,"period":per(y,m),"headcount":h,"vacancies":0,"hires":hires,"separations":seps})
        prev=h
    return f
def habit(k,p,h):  # ordinary flows: about 2% each way, the rest of the change as resignations
    base=max(1,p//50)
    if h>=p: return base+(h-p),{"resignation":base}
    return base,{"resignation":base+(p-h)}
def steady(base,fall=None,flat=False):
    def level(i,k):
        h=base*(1 if flat else wiggle(i,k))
        if fall: h*=fall(k)
        return round(h)
    return level
# peers: manufacturing in Chengguan (620102), steady
for j in range(50): firm('manufacturing peer %d'%j,'620102',1000,steady(1000),habit)
# -- unusual separations, January 2026: volatile firms of 300 whose headcount
# swings 3–5% a month; every January 30 contracts end (their habit), and
# they hire as many
def volatile(cut):
    def level(i,k):
        m=months[k][1]
        h=300*SWING[k%len(SWING)]
        if k==T: h=300*SWING[(k-1)%len(SWING)]*(1-cut)
        return round(h)
    return level
def january(other,contract=30,k_only=True):
    def flows(k,p,h):
        m=months[k][1]
        if m!=1:
            return habit(k,p,h)
        extra=other if k==T else 0
        ce=contract if k==T else 30
        res=max(1,p//50)
        sep=ce+extra+res
        return max(0,h-p+sep),{"contract_expiry":ce,"other":extra,"resignation":res} if extra else {"contract_expiry":ce,"resignation":res}
    return flows
firm('V1 14% down with 10 negotiated terminations (other) it never reports and 30 contract ends as every January: art41_unusual','620102',300,volatile(0.14),january(10))
firm('V2 as V1 with 9 other: just under half the line: quiet','620102',300,volatile(0.14),january(9))
firm('V3 14% down with 60 contract ends where every January has 30: art41_unusual','620102',300,volatile(0.14),january(0,contract=60))
firm('V4 a steady firm of 300 20% down with 10 other: art41 (z far below −4) and not art41_unusual too','620102',300,lambda i,k: round(300*wiggle(i,k)*(0.8 if k==T else 1)),lambda k,p,h: (max(1,p//50),{"other":10,"resignation":max(1,p//50)+max(0,p-h-10)}) if k==T else habit(k,p,h))
# -- habitual_layoff_separations, January 2026: steady firms of 300 that
# report 25 economic layoffs every January (a winter stop they report as
# layoffs) and hire as many back; the headcount does not move
def winter_layoffs(last):
    def flows(k,p,h):
        m=months[k][1]
        if m!=1:
            return habit(k,p,h)
        n=last if k==T else 25
        return n+max(0,h-p),{"economic_layoff":n}
    return flows
firm('W1 reports its usual 25 winter economic layoffs: quiet','620102',300,lambda i,k: 300,winter_layoffs(25))
firm('W2 reports 55: 20 beyond its habit (25 + 2 x 5): art41_reported','620102',300,lambda i,k: 300,winter_layoffs(55))
firm('W3 reports 54: 19 beyond its habit: quiet','620102',300,lambda i,k: 300,winter_layoffs(54))
# -- county_trend: ten firms of 200 in Xigu (620104) and ten in Anning (620105)
# (flat until then) fall month after month from November 2025 while
# Lanzhou's manufacturing (Chengguan's 50 firms) moves as ever: Xigu 1.6% a month (4.7% in three months),
# Anning 0.9% a month (2.7%, under the 3% the rule asks)
def falling(rate):
    return lambda k: (1-rate)**max(0,k-(T-3))
for j in range(10): firm('Xigu firm %d falling 2.2%% a month for three months'%j,'620104',200,steady(200,falling(0.022),flat=True),habit)
for j in range(10): firm('Anning firm %d falling 1.3%% a month for three months'%j,'620105',200,steady(200,falling(0.013),flat=True),habit)
with open(out+'/firms.csv','w') as w:
    w.write('firm_id,name,region,industry,baseline_headcount\n')
    for f in firms: w.write('%s,%s,%s,%s,%d\n'%f)
with open(out+'/reports.jsonl','w') as w:
    for r in reps: w.write(json.dumps(r,ensure_ascii=False)+'\n')
open(out+'/period','w').write(per(*months[T])+'\n')
