package report

import (
	"strings"
	"testing"
)

func TestCheckFirmID(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		wantErr string // substring of the error; "" means valid
	}{
		// Codes printed on real business licences.
		{name: "Huawei Technologies", id: "914403001922038216"},
		{name: "Shenzhen Tencent Computer Systems, letter check", id: "9144030071526726XG"},
		{name: "Xiaomi Communications", id: "91110108558521630L"},
		{name: "Alibaba (China)", id: "91330100799655058B"},
		// Generated for the Gansu test registry (check characters computed by hand).
		{name: "Lanzhou firm", id: "91620102MA7K10003N"},
		{name: "Jiayuguan firm, digit check", id: "91620201MA75E700X1"},
		{name: "check value 0", id: "000000000000000000"},

		{name: "wrong check digit", id: "914403001922038217", wantErr: "check character is '7', want '6'"},
		{name: "wrong check letter", id: "9144030071526726XH", wantErr: "check character is 'H', want 'G'"},
		{name: "two body characters swapped", id: "914403001922032816", wantErr: "check character"},
		{name: "lower-case check letter", id: "9144030071526726Xg", wantErr: "check character 'g' is not allowed"},
		{name: "lower-case body letter", id: "9144030071526726xG", wantErr: "character 17 ('x') is not allowed"},
		{name: "forbidden I", id: "91440300715267I6XG", wantErr: "character 15 ('I') is not allowed"},
		{name: "forbidden O", id: "O14403001922038216", wantErr: "character 1 ('O') is not allowed"},
		{name: "forbidden S", id: "91440300S922038216", wantErr: "character 9 ('S') is not allowed"},
		{name: "forbidden V", id: "9144030019220382V6", wantErr: "character 17 ('V') is not allowed"},
		{name: "forbidden Z as check", id: "91440300192203821Z", wantErr: "check character 'Z' is not allowed"},
		{name: "empty", id: "", wantErr: "must have 18 characters, has 0"},
		{name: "17 characters", id: "91440300192203821", wantErr: "must have 18 characters, has 17"},
		{name: "19 characters", id: "9144030019220382160", wantErr: "must have 18 characters, has 19"},
		{name: "surrounding space", id: " 914403001922038216", wantErr: "must have 18 characters"},
		{name: "hyphenated", id: "91440300-192203821", wantErr: "('-') is not allowed"},
		{name: "full-width digit, 18 bytes", id: "91440300192203８2", wantErr: "is not allowed"},
		{name: "Chinese text, 18 bytes", id: "统一社会信用", wantErr: "character 1"},
		{name: "Chinese text, other length", id: "统一社会信用代码", wantErr: "must have 18 characters"},
		{name: "NUL byte", id: "91440300192203821\x00", wantErr: "check character '\\x00' is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckFirmID(tt.id)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("CheckFirmID(%q) = %v, want nil", tt.id, err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("CheckFirmID(%q) = nil, want error containing %q", tt.id, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("CheckFirmID(%q) = %v, want error containing %q", tt.id, err, tt.wantErr)
			}
		})
	}
}

func TestCreditCheckChar(t *testing.T) {
	tests := []struct {
		name string
		body string
		want byte
	}{
		{name: "Huawei", body: "91440300192203821", want: '6'},
		{name: "Tencent", body: "9144030071526726X", want: 'G'},
		{name: "Xiaomi", body: "91110108558521630", want: 'L'},
		{name: "all zeros gives 0", body: "00000000000000000", want: '0'},
		// sum = 1: (31 - 1) mod 31 = 30, the last symbol.
		{name: "sum 1 gives Y", body: "10000000000000000", want: 'Y'},
		// sum = 30 (value 30 at weight 1): (31 - 30) mod 31 = 1.
		{name: "sum 30 gives 1", body: "Y0000000000000000", want: '1'},
		// value 1 at weight 28 (last position): 31 - 28 = 3.
		{name: "last weight is 28", body: "00000000000000001", want: '3'},
		// value 1 at weight 3 (second position): 31 - 3 = 28 = 'W'.
		{name: "second weight is 3", body: "01000000000000000", want: 'W'},
		{name: "letters after skipped I, O, S, V", body: "JPTWXY00000000000", want: checkCharByDefinition("JPTWXY00000000000")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CreditCheckChar(tt.body); got != tt.want {
				t.Fatalf("CreditCheckChar(%q) = %q, want %q", tt.body, got, tt.want)
			}
			if err := CheckFirmID(tt.body + string(tt.want)); err != nil {
				t.Fatalf("CheckFirmID of body + its check char: %v", err)
			}
		})
	}
}

// checkCharByDefinition restates GB 32100-2015 independently of the code
// under test: 31 symbols without I, O, S, V, Z; weights 3^i mod 31.
func checkCharByDefinition(body string) byte {
	const symbols = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	sum, w := 0, 1
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(symbols, body[i]) * w
		w = w * 3 % 31
	}
	return symbols[(31-sum%31)%31]
}

func TestCreditAlphabetAndWeights(t *testing.T) {
	if len(creditAlphabet) != 31 {
		t.Fatalf("alphabet has %d symbols, want 31", len(creditAlphabet))
	}
	for _, c := range "IOSVZ" {
		if strings.ContainsRune(creditAlphabet, c) {
			t.Errorf("alphabet contains forbidden %q", c)
		}
	}
	w := 1
	for i, got := range creditWeights {
		if got != w {
			t.Errorf("weight %d = %d, want 3^%d mod 31 = %d", i+1, got, i, w)
		}
		w = w * 3 % 31
	}
	// Every single-symbol change in any position must change the check char.
	base := []byte("91620102MA7K10003")
	for i := range base {
		for j := 0; j < len(creditAlphabet); j++ {
			b := append([]byte(nil), base...)
			b[i] = creditAlphabet[j]
			if got, want := CreditCheckChar(string(b)), checkCharByDefinition(string(b)); got != want {
				t.Fatalf("CreditCheckChar(%q) = %q, definition gives %q", b, got, want)
			}
		}
	}
}

func TestCreditCheckCharPanics(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{name: "too short", body: "9144030019220382"},
		{name: "full id", body: "914403001922038216"},
		{name: "forbidden letter", body: "9144030019220382I"},
		{name: "lower case", body: "9144030071526726x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatalf("CreditCheckChar(%q) did not panic", tt.body)
				}
			}()
			CreditCheckChar(tt.body)
		})
	}
}
