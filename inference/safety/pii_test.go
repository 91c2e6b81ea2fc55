package safety

import (
	"reflect"
	"testing"
)

func TestRedact(t *testing.T) {
	cases := []struct {
		name, in, want string
		kinds          []PersonalKind
	}{
		{"email", "write to jane.doe+news@example.co.uk today", "write to [email] today", []PersonalKind{Email}},
		{"international phone", "call me on +44 20 7946 0958 please", "call me on [phone] please", []PersonalKind{Phone}},
		{"us phone", "my number is (415) 555-0132", "my number is [phone]", []PersonalKind{Phone}},
		{"local phone", "ring 555-0132", "ring [phone]", []PersonalKind{Phone}},
		{"card with spaces", "card 4111 1111 1111 1111 exp 12/29", "card [card] exp 12/29", []PersonalKind{Card}},
		{"card with dashes", "5500-0000-0000-0004", "[card]", []PersonalKind{Card}},
		{"card failing luhn stays", "order 4111 1111 1111 1112", "order 4111 1111 1111 1112", nil},
		{"iban", "IBAN DE89 3704 0044 0532 0130 00 thanks", "IBAN [iban] thanks", []PersonalKind{IBAN}},
		{"iban compact", "GB82WEST12345698765432", "[iban]", []PersonalKind{IBAN}},
		{"iban bad check digits stays", "DE00 3704 0044 0532 0130 00", "DE00 3704 0044 0532 0130 00", nil},
		{"us ssn", "ssn 123-45-6789", "ssn [us_ssn]", []PersonalKind{USSSN}},
		{"us ssn invalid area", "code 000-12-3456", "code [phone]", []PersonalKind{Phone}},
		{"uk nino", "NI number AB 12 34 56 C", "NI number [uk_nino]", []PersonalKind{UKNINO}},
		{"uk nino invalid prefix", "GB 12 34 56 A", "GB 12 34 56 A", nil},
		{"date is not a phone", "born 1990-04-12", "born 1990-04-12", nil},
		{"year and price stay", "in 2024 it cost $1,299.99", "in 2024 it cost $1,299.99", nil},
		{"several", "mail a@b.io or call +1 415 555 0132", "mail [email] or call [phone]", []PersonalKind{Email, Phone}},
		{"nothing", "hello there", "hello there", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, fs := Redact(c.in)
			if got != c.want {
				t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
			}
			var kinds []PersonalKind
			for _, f := range fs {
				kinds = append(kinds, f.Kind)
				if f.Start < 0 || f.End > len(c.in) || f.Start >= f.End {
					t.Errorf("bad span %+v", f)
				}
			}
			if !reflect.DeepEqual(kinds, c.kinds) {
				t.Errorf("kinds %v, want %v", kinds, c.kinds)
			}
		})
	}
}

func TestLuhnAndIBAN(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{{"4111111111111111", true}, {"4111111111111112", false}, {"0000000000000000", false}, {"378282246310005", true}} {
		if got := luhn(c.s); got != c.want {
			t.Errorf("luhn(%s) = %v", c.s, got)
		}
	}
	for _, c := range []struct {
		s    string
		want bool
	}{{"DE89370400440532013000", true}, {"FR1420041010050500013M02606", true}, {"DE89370400440532013001", false}, {"DE8937", false}} {
		if got := validIBAN(c.s); got != c.want {
			t.Errorf("validIBAN(%s) = %v", c.s, got)
		}
	}
}
