# Generates detector/testdata/default_firm_thresholds (run once; the data is committed).
import json, sys
B='0123456789ABCDEFGHJKLMNPQRTUWXY'
W=[1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28]
def fid(body):
    s=sum(B.index(c)*w for c,w in zip(body,W)); return body+B[(31-s%31)%31]
out=sys.argv[1]
firms=[]; reps=[]
months=[(y,m) for y in range(2023,2027) for m in range(1,13)][:37]   # 2023-01 .. 2026-01
T=months[-1]
def per(y,m): return '%04d-%02d'%(y,m)
# construction seasonal level offsets (share of the annual level) by calendar month
EOFF={12:-0.20,1:-0.28,2:-0.28,3:-0.14,4:0.0}
def season(ind,m):
    if ind!='E': return 1.0
    return 1.0+EOFF.get(m,0.0)
def wiggle(i,k):  # deterministic ±0.5% pattern, phase by firm
    return 1.0+0.005*(1 if (i+k)%2 else -1)*(1 if (i+k)%3 else 0.5)
n=[0]
def firm(name,county,ind,base,last=None,seps=None,steady=False):
    n[0]+=1; i=n[0]
    f=fid('91%s%09d'%(county,i)); firms.append((f,name,county,ind,base))
    for k,(y,m) in enumerate(months):
        h=round(base*season(ind,m)*(1 if steady else wiggle(i,k)))
        r={"schema_version":1,"firm_id":f,"period":per(y,m),"headcount":h,"vacancies":0,"hires":max(1,h//50),"separations":{"resignation":max(1,h//50)}}
        if (y,m)==T and last is not None:
            prev=round(base*season(ind,months[-2][1])*(1 if steady else wiggle(i,k-1)))
            r["headcount"]=last(prev)
            r["separations"]=seps(prev,r["headcount"]) if seps else {"resignation":max(1,prev//50)+max(0,prev-r["headcount"])}
            r["hires"]=max(1,prev//50)
        reps.append(r)
    return f
# peers: manufacturing in Chengguan, construction in Qilihe
for j in range(10): firm('manufacturing peer %d'%j,'620102','C',1000)
for j in range(10): firm('construction peer %d'%j,'620103','E',500)
# the cases, in January 2026 (construction: the winter stop goes on, −10% on December)
firm('A 2.5% below expectation (25 people): quiet','620102','C',1000,lambda p: round(p*0.975))
firm('A2 6% below (60 people: past the line by people but under 8% beyond expectation): quiet','620102','C',1000,lambda p: round(p*0.94))
firm('B 12% below expectation: art41','620102','C',1000,lambda p: round(p*0.88))
firm('C 12% below in a firm of 120 (14 people: the line by share): art41','620102','C',120,lambda p: round(p*0.88))
firm('C2 8% below in a firm of 120 (10 people: under both lines): quiet','620102','C',120,lambda p: round(p*0.92))
firm('D reports 20 economic layoffs and little net loss: art41_reported','620102','C',1000,lambda p: p-5,lambda p,h:{"economic_layoff":20,"resignation":5})
firm('E reports 19 economic layoffs (1.9%): quiet','620102','C',1000,lambda p: p-4,lambda p,h:{"economic_layoff":19,"resignation":5})
firm('F cuts 25% (250): art41 and mass_layoff','620102','C',1000,lambda p: round(p*0.75))
firm('G cuts 35% (350): art41 and mass_layoff and major_cut','620102','C',1000,lambda p: round(p*0.65))
firm('H headcount typed 100 for 1000 and flows say nobody left: quiet','620102','C',1000,lambda p: round(p*0.1),lambda p,h:{"resignation":max(1,p//50)})
firm('I closes (closure_bankruptcy): closure I','620102','C',1000,lambda p: 0,lambda p,h:{"closure_bankruptcy":p})
firm('J construction with the usual winter fall: quiet','620103','E',500)
firm('K construction with the winter fall and a 20% layoff on top: art41 and mass_layoff','620103','E',500,lambda p: round(p*0.72*0.80))
firm('L cuts 10% (100) reported as resignations: art41 and the fifth firm of the county cluster','620102','C',1000,lambda p: round(p*0.90))
with open(out+'/firms.csv','w') as w:
    w.write('firm_id,name,region,industry,baseline_headcount\n')
    for f in firms: w.write('%s,%s,%s,%s,%d\n'%f)
with open(out+'/reports.jsonl','w') as w:
    for r in reps: w.write(json.dumps(r,ensure_ascii=False)+'\n')
open(out+'/period','w').write(per(*T)+'\n')
