//! Xero's invoice arithmetic, reproduced so an invoice is known to be right before it is sent:
//! each line's amount is `round(Quantity × UnitAmount, 2)`, each line's tax is computed from it
//! and rounded to 2 dp, and the totals are sums of the rounded figures.

use rust_decimal::Decimal;

use super::model::LineAmountTypes;
use crate::money::round;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineFigures {
    pub line_amount: Decimal,
    pub tax: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub sub_total: Decimal,
    pub total_tax: Decimal,
    pub total: Decimal,
}

/// One line: quantity, unit amount and its tax rate in percent.
pub fn line(types: LineAmountTypes, quantity: Decimal, unit_amount: Decimal, rate_percent: Decimal) -> LineFigures {
    let line_amount = round(quantity * unit_amount, 2);
    let hundred = Decimal::ONE_HUNDRED;
    let tax = match types {
        LineAmountTypes::NoTax => Decimal::ZERO,
        LineAmountTypes::Exclusive => round(line_amount * rate_percent / hundred, 2),
        LineAmountTypes::Inclusive => round(line_amount * rate_percent / (hundred + rate_percent), 2),
    };
    LineFigures { line_amount, tax }
}

pub fn totals(types: LineAmountTypes, lines: &[LineFigures]) -> Totals {
    let amounts: Decimal = lines.iter().map(|l| l.line_amount).sum();
    let tax: Decimal = lines.iter().map(|l| l.tax).sum();
    let sub_total = match types {
        LineAmountTypes::Inclusive => amounts - tax,
        _ => amounts,
    };
    Totals { sub_total, total_tax: tax, total: sub_total + tax }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn xero_rounds_tax_per_line_not_on_the_total() {
        // Xero's own example: three lines at 15% → 11.44, where 15% of the total would be 11.45.
        let lines: Vec<_> = [dec!(25.43), dec!(25.43), dec!(25.43)]
            .iter()
            .map(|a| line(LineAmountTypes::Exclusive, dec!(1), *a, dec!(15)))
            .collect();
        let t = totals(LineAmountTypes::Exclusive, &lines);
        assert_eq!(lines[0].tax, dec!(3.81));
        assert_eq!(t.total_tax, dec!(11.43));
        assert_eq!(round(dec!(76.29) * dec!(0.15), 2), dec!(11.44));
    }

    #[test]
    fn inclusive_lines_back_the_tax_out() {
        let l = line(LineAmountTypes::Inclusive, dec!(1), dec!(18.00), dec!(2));
        assert_eq!(l, LineFigures { line_amount: dec!(18.00), tax: dec!(0.35) });
        let t = totals(LineAmountTypes::Inclusive, &[l]);
        assert_eq!((t.sub_total, t.total_tax, t.total), (dec!(17.65), dec!(0.35), dec!(18.00)));
    }

    #[test]
    fn four_decimal_unit_amounts_round_at_the_line() {
        let l = line(LineAmountTypes::NoTax, dec!(3), dec!(3.3333), dec!(0));
        assert_eq!(l.line_amount, dec!(10.00));
    }
}
