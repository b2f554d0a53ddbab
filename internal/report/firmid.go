package report

import "fmt"

// The unified social credit code (统一社会信用代码, GB 32100-2015) has 18
// characters drawn from 31 symbols; the last is a check character computed
// from the first 17 with the weights below, modulo 31.
const creditAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

var creditValue = func() (v [256]int8) {
	for i := range v {
		v[i] = -1
	}
	for i := 0; i < len(creditAlphabet); i++ {
		v[creditAlphabet[i]] = int8(i)
	}
	return v
}()

// CheckFirmID reports why id is not a valid unified social credit code, or
// nil when it is. Letters must be upper case, as printed on licences.
func CheckFirmID(id string) error { return checkFirmID(id) }

func checkFirmID[T string | []byte](id T) error {
	if len(id) != 18 {
		return fmt.Errorf("firm id must have 18 characters, has %d", len(id))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := creditValue[id[i]]
		if v < 0 {
			return fmt.Errorf("firm id character %d (%q) is not allowed", i+1, id[i])
		}
		sum += int(v) * creditWeights[i]
	}
	if creditValue[id[17]] < 0 {
		return fmt.Errorf("firm id check character %q is not allowed", id[17])
	}
	want := creditCheckChar(id[:17])
	if id[17] != want {
		return fmt.Errorf("firm id check character is %q, want %q", id[17], want)
	}
	return nil
}

// CreditCheckChar computes the check character for the first 17 characters
// of a unified social credit code. It panics if body has another length or an
// invalid character; callers check first (or generate the body themselves).
func CreditCheckChar(body string) byte { return creditCheckChar(body) }

func creditCheckChar[T string | []byte](body T) byte {
	if len(body) != 17 {
		panic("CreditCheckChar: body must have 17 characters")
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := creditValue[body[i]]
		if v < 0 {
			panic("CreditCheckChar: invalid character")
		}
		sum += int(v) * creditWeights[i]
	}
	c := (31 - sum%31) % 31
	return creditAlphabet[c]
}
